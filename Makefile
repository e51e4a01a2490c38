# Set-up and entry points. `make test` and `make demo` create the environment
# in .venv when it is missing, so they are the only commands a new user needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: env test test-fast demo demo-dense benchmark clean-env

env: $(STAMP)

# 1. torch first and pinned (the CPU wheel), so nothing later pulls a CUDA
#    build;
# 2. mmcv 2.1.0 compiled with its ops against that torch, with the build
#    tools its setup.py works with (setuptools<70); about 25 minutes on 2
#    cores the first time, then instant from pip's wheel cache;
# 3. everything else, under constraints.txt (which also restores the
#    setuptools torch needs at run time).
$(STAMP): requirements.txt requirements-test.txt constraints.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch "numpy>=1.24"
	$(PIP) install -q "setuptools<70" wheel ninja
	MMCV_WITH_OPS=1 MAX_JOBS=2 $(PIP) install --no-build-isolation "mmcv==2.1.0"
	$(PIP) install -q -c constraints.txt -r requirements.txt -r requirements-test.txt setuptools
	$(PIP) install -q -c constraints.txt --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmdet.models, mmseg.models, cvt_backbone; print('environment ok')"
	touch $(STAMP)

test: env
	$(PY) -m pytest -q tests

test-fast: env
	$(PY) -m pytest -q -m "not slow" tests

# The embedded demo: synthetic data (generated once), CvT-13 trained on the CPU.
demo: env
	$(PY) tools/make_synthetic_data.py data/synthetic
	$(PY) tools/train.py configs/demo_cvt13_synthetic.py

# Dense-prediction demo: Mask R-CNN and UperNet with a small CvT trained on
# generated COCO / ADE-style sets on the CPU; prints bbox/segm mAP and mIoU.
demo-dense: env
	$(PY) tools/demo_dense.py

# Side-by-side speed/memory benchmark against transformers' CvtModel.
benchmark: env
	$(PY) tools/benchmark.py --out docs/benchmark

clean-env:
	rm -rf $(VENV)
