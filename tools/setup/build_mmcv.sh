#!/usr/bin/env bash
# Install mmcv 2.1.0 with its compiled ops into the Python given as $1.
#
# mmdet 3.3 and mmseg 1.2 need mmcv < 2.2 with its ops, and PyPI has only
# mmcv 2.1.0's source. Its setup.py passes -std=c++17, but the headers of
# torch >= 2.14 need C++20, so the sdist is downloaded, that one flag is
# changed, and a wheel is built (about 18 minutes on 2 cores). The wheel is
# kept in a cache keyed by mmcv, torch and Python version, so later set-ups
# on the same machine (a fresh clone, CI) install it in seconds.
set -euo pipefail
PY=${1:?usage: build_mmcv.sh PYTHON}
MMCV_VERSION=2.1.0
CACHE=${CVT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cvt_backbone/wheels}
tag=$("$PY" -c 'import sys, torch; v = torch.__version__.split("+")[0]; print("torch%s-py%d%d" % (v, *sys.version_info[:2]))')
dest="$CACHE/mmcv-$MMCV_VERSION-$tag"

if ! ls "$dest"/mmcv-*.whl >/dev/null 2>&1; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # the build environment mmcv's setup.py works with (pkg_resources)
    "$PY" -m pip install -q "setuptools<70" wheel ninja
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d "$work" "mmcv==$MMCV_VERSION"
    tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
    src="$work/mmcv-$MMCV_VERSION"
    grep -q -- "'-std=c++17'" "$src/setup.py" || {
        echo "build_mmcv.sh: mmcv $MMCV_VERSION setup.py no longer passes -std=c++17; check the patch" >&2
        exit 1
    }
    sed -i "s/'-std=c++17'/'-std=c++20'/" "$src/setup.py"
    echo "Compiling mmcv $MMCV_VERSION with its ops against $tag (about 18 minutes on 2 cores)..."
    start=$(date +%s)
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$PY" -m pip wheel -q \
        --no-deps --no-build-isolation -w "$work/wheel" "$src"
    mkdir -p "$dest"
    mv "$work"/wheel/mmcv-*.whl "$dest/"
    echo "mmcv built in $(( $(date +%s) - start )) s, cached in $dest"
fi
"$PY" -m pip install -q --no-deps "$dest"/mmcv-*.whl
