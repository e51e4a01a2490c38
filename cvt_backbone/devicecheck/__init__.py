"""The device check: one short run on a GPU host that proves CUDA
correctness, mixed precision, speed against ``transformers`` and the real
training loop, rehearsed on the CPU by its dry run.

    bash tools/gpu/device_check.sh OUT_DIR [--dry-run]

* :mod:`.bundle` (standard library only): the carried wheels, built by
  ``make gpu-bundle``, installed on the host before anything else;
* :mod:`.plan`: the stages, their time caps and sizes (GPU and dry run);
* :mod:`.runner`: each stage in its own process under its cap, then the
  report; :mod:`.stage`: a stage's process and its incremental result;
* the stages: :mod:`.env`, :mod:`.correctness`, :mod:`.amp`,
  :mod:`.speed` (``speed_infer``, ``speed_train``), :mod:`.loop`, with
  what they share in :mod:`.common`;
* :mod:`.report`: the targets as pass/fail lines and the Markdown report.

Importing this package registers nothing and loads nothing beyond
``cvt_backbone`` itself; the runner loads what the stages share once and
forks each stage into its own process.
"""
