"""Side-by-side benchmark: our CvT against ``transformers``' CvT on
identical weights, and the training input pipeline against JPEG decoding
(``tools/analysis_tools/benchmark.py`` is its command line).

* :mod:`.cases`: what is measured: the cases, the variants (adding one is
  one entry in ``VARIANTS``), the pipelines;
* :mod:`.models`: the model timing worker (ours built by
  :func:`cvt_backbone.apis.build_model`, theirs by ``transformers``, the
  onnxruntime session, the step, memory);
* :mod:`.pipeline`: the input-pipeline worker;
* :mod:`.trainloop`: a ``tools/train.py`` run fed by the real loader;
* :mod:`.worker`: one measurement in a fresh process
  (``python -m cvt_backbone.benchmark.worker SPEC_JSON``);
* :mod:`.runner`: fresh-process spawning and the one alternate-and-median
  routine;
* :mod:`.driver`: :func:`run_benchmark`, the cases into result rows;
* :mod:`.report`: ``table.md``, ``results.json``, ``plot.png``.

Importing it registers nothing and imports no worker dependency
(``transformers``, onnxruntime, timm, matplotlib): those load in the
functions that use them.
"""
from .cases import (
    CASES,
    DEFAULT_VARIANTS,
    PIPELINES,
    VARIANTS,
    Variant,
    applies,
    parse_arch,
    parse_size,
)
from .driver import run_benchmark
from .models import (
    build_variant,
    forward_fn,
    matmul_peak,
    run_model_worker,
    save_reference_weights,
)
from .pipeline import pipeline_steps, run_pipeline_worker
from .report import render_plot, render_table, write_outputs
from .runner import Runs, alternate, each, spawn
from .trainloop import run_trainloop, trainloop_config

__all__ = [
    'CASES', 'DEFAULT_VARIANTS', 'PIPELINES', 'Runs', 'VARIANTS', 'Variant',
    'alternate', 'applies', 'build_variant', 'each', 'forward_fn',
    'matmul_peak', 'parse_arch', 'parse_size', 'pipeline_steps',
    'render_plot', 'render_table', 'run_benchmark', 'run_model_worker',
    'run_pipeline_worker', 'run_trainloop', 'save_reference_weights',
    'spawn', 'trainloop_config', 'write_outputs'
]
