"""Benchmark this project's CvT against transformers' CvtModel.

    python tools/benchmark.py --out work_dirs/benchmark
    python tools/benchmark.py --cases infer1024 --variants ours theirs \
        --repeats 1 --dtypes fp32

Identical weights, one fresh subprocess per measurement, alternating the
implementations; writes table.md, results.json and plot.png to --out.
See cvt_backbone/benchmark.py for what is measured.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cvt_backbone.benchmark import main  # noqa

if __name__ == '__main__':
    sys.exit(main())
