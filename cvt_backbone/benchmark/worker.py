"""One measurement in a fresh process, so that its peak memory is its own:

    python -m cvt_backbone.benchmark.worker SPEC_JSON

prints the result as one JSON line (:func:`.runner.spawn` runs it). The
spec's ``mode`` says which worker: a model case (:mod:`.models`), the
pipeline case (:mod:`.pipeline`), or ``variant='peak'``: the machine's fp32
matmul peak."""
import json
import sys
from typing import Any, Dict


def run_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The measurement ``spec`` asks for, in this process."""
    if spec.get('mode') == 'pipeline':
        from .pipeline import run_pipeline_worker
        return run_pipeline_worker(spec)
    from .models import matmul_peak, run_model_worker
    if spec.get('variant') == 'peak':
        return matmul_peak(spec['size'], spec['device'], spec.get('iters', 3),
                           spec.get('threads'))
    return run_model_worker(spec)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print('usage: python -m cvt_backbone.benchmark.worker SPEC_JSON',
              file=sys.stderr)
        return 2
    print(json.dumps(run_worker(json.loads(argv[0]))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
