# Set-up and entry points. `make test` and `make demo` create the environment
# in .venv when it is missing, so they are the only commands a new user needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: env lint test test-fast demo demo-dense demo-ablation benchmark gpu-bundle clean-env

# iproute2 (`ip`) for the two-host test (network namespaces, as root);
# without it that test is skipped.
env: $(STAMP)
	@command -v ip >/dev/null || test -x /usr/sbin/ip || \
		(apt-get update -qq && apt-get install -y -qq iproute2) || \
		echo 'iproute2 not installed: the two-host test will be skipped'

# 1. torch and torchvision first, pinned (constraints.txt), so nothing later
#    pulls another build;
# 2. the libraries and test tools, under the same constraints;
# 3. mmcv 2.1.0 compiled with its ops against that torch
#    (tools/setup/build_mmcv.sh: about 18 minutes on 2 cores the first time,
#    then seconds from its wheel cache in ~/.cache/cvt_backbone);
# 4. the setuptools torch needs at run time (mmcv's build wants an older one),
#    then this package, editable.
$(STAMP): requirements.txt requirements-test.txt constraints.txt setup.py tools/setup/build_mmcv.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch torchvision
	$(PIP) install -q -c constraints.txt -r requirements.txt -r requirements-test.txt
	bash tools/setup/build_mmcv.sh $(PY)
	$(PIP) install -q -c constraints.txt setuptools
	$(PIP) install -q -c constraints.txt --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, cvt_backbone; print('environment ok')"
	touch $(STAMP)

# Lint (ruff: pyflakes, pycodestyle, isort order) on the whole tree.
lint: env
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -q tests

test-fast: lint
	$(PY) -m pytest -q -m "not slow" tests

# The embedded demo: synthetic data (generated once), CvT-13 trained on the CPU.
demo: env
	$(PY) tools/misc/make_synthetic_data.py data/synthetic
	$(PY) tools/train.py configs/demo_cvt13_synthetic.py

# Dense-prediction demo: Mask R-CNN and UperNet with a small CvT trained on
# generated COCO / ADE-style sets on the CPU; prints bbox/segm mAP and mIoU.
demo-dense: env
	$(PY) tools/demo_dense.py

# Ablation demo: the paper's Table 7 (k/v stride 1 vs 2) with a small CvT on
# the generated set on the CPU, both runs side by side (toy scale: it does
# not reproduce ImageNet's gap).
demo-ablation: env
	$(PY) tools/demo_ablation.py

# Side-by-side speed/memory benchmark against transformers' CvtModel.
benchmark: env
	$(PY) tools/analysis_tools/benchmark.py --out docs/benchmark

# The carried folder for the GPU device check (tools/gpu/device_check.sh):
# Python 3.12 wheels of what the GPU host lacks (mmcv-lite, mmengine,
# mmpretrain and their dependencies), downloaded with pip into the
# git-ignored .gpu_bundle/ (about 23 MiB; the build refuses more than 60).
gpu-bundle:
	$(PYTHON) cvt_backbone/devicecheck/bundle.py build .gpu_bundle

clean-env:
	rm -rf $(VENV)
