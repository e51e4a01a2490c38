# Set-up and entry points. `make test` and `make demo` create the environment
# in .venv when it is missing, so they are the only commands a new user needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
STAMP  := $(VENV)/.installed

.PHONY: env test test-fast demo demo-dense benchmark clean-env

env: $(STAMP)

# torch first and pinned, so nothing later can pull a CUDA build; mmcv 2.1.0 is
# compiled from source with its ops against that torch (pip's wheel cache makes
# this instant after the first build on a machine).
$(STAMP): requirements.txt requirements-test.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q "setuptools<70" wheel ninja "numpy>=1.24"
	MMCV_WITH_OPS=1 MAX_JOBS=2 $(PIP) install --no-build-isolation "mmcv==2.1.0" "torch==$(TORCH_VERSION)"
	$(PIP) install -q -r requirements.txt -r requirements-test.txt "torch==$(TORCH_VERSION)" "mmcv==2.1.0"
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmdet.models, mmseg.models, cvt_backbone; print('environment ok')"
	touch $(STAMP)

test: env
	$(PY) -m pytest -q tests

test-fast: env
	$(PY) -m pytest -q -m "not slow" tests

demo: env
	$(PY) tools/demo.py

benchmark: env
	$(PY) tools/benchmark.py

clean-env:
	rm -rf $(VENV)
