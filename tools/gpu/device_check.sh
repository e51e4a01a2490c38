#!/usr/bin/env bash
# The GPU device check in one command (README, "On the GPU"):
#
#   bash tools/gpu/device_check.sh OUT_DIR [--dry-run] [--stages NAME ...]
#
# On a host without OpenMMLab's packages it first installs, from the
# carried folder `make gpu-bundle` writes (.gpu_bundle/, or $CVT_GPU_BUNDLE),
# the wheels its Python lacks into a fresh $CVT_GPU_SITE
# (default /tmp/cvt_devicecheck_site) and puts it on PYTHONPATH; without a
# bundle it uses the packages installed. Then it runs every stage
# (python -m cvt_backbone.devicecheck): report.md, results.json, logs.txt,
# console.log, install.log and install.json in OUT_DIR (6 files).
# --dry-run: the same stages on the CPU, tiny.
# Exit status 0 when every stage ran to its end.
set -uo pipefail
OUT=${1:?usage: device_check.sh OUT_DIR [--dry-run] [--stages NAME ...]}
shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
BUNDLE=${CVT_GPU_BUNDLE:-$ROOT/.gpu_bundle}
SITE=${CVT_GPU_SITE:-/tmp/cvt_devicecheck_site}
START=$(date +%s)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -f "$BUNDLE/manifest.json" ]; then
    "$PY" "$ROOT/cvt_backbone/devicecheck/bundle.py" install "$BUNDLE" \
        "$SITE" --record "$OUT/install.json" 2>&1 | tee "$OUT/install.log"
    export CVT_DEVICECHECK_INSTALL_RECORD="$OUT/install.json"
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    echo "no bundle at $BUNDLE: using the installed packages" \
        | tee "$OUT/install.log"
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

cd "$ROOT"
"$PY" -m cvt_backbone.devicecheck "$OUT" --started-at "$START" "$@" 2>&1 \
    | tee "$OUT/console.log"
status=${PIPESTATUS[0]}
if [ ! -f "$OUT/report.md" ]; then
    # the check could not even start (e.g. a package that does not import)
    {
        echo "# CvT device check: did not start (exit $status)"
        echo
        echo '```'
        tail -n 20 "$OUT/install.log"
        tail -n 40 "$OUT/console.log"
        echo '```'
    } > "$OUT/report.md"
fi
exit "$status"
