#!/usr/bin/env bash
# The sampling benchmark with the transformers backend on a GPU machine (prepared by prepare.sh).
# The machine has torch and transformers but no network: Django and Celery come from carried wheels;
# the model file (98 MB) cannot be carried, so weights are random with SmolLM2-135M's config and
# tokenizer (throughput depends on shapes; min_new_tokens fixes the generated length).
set -u
cd "$(dirname "$0")/../../.."  # the repository root
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pip install -q --no-index --find-links var/gpu/wheels --target /tmp/pydeps Django celery django-htmx dj-database-url whitenoise 2>&1 | tail -3
export PYTHONPATH=/tmp/pydeps
python3 - <<'PY'
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
config = AutoConfig.from_pretrained("var/gpu/smol-config")
torch.manual_seed(0)
model = AutoModelForCausalLM.from_config(config)
model.save_pretrained("/tmp/smol-random")
AutoTokenizer.from_pretrained("var/gpu/smol-config").save_pretrained("/tmp/smol-random")
print("random-weight model saved")
PY
mkdir -p "$OUT"
GRM_DATA_DIR=/tmp/benchdata GRM_MODEL=/tmp/smol-random timeout 420 python3 -m tests.bench sampling 2>&1 \
  | grep -v -E "Converting|Loading weights" | tee "$OUT/bench.txt"
cp /tmp/benchdata/bench-worker.log "$OUT/" 2>/dev/null || true
