"""One stage of the device check, in its own process:

    python -m cvt_backbone.devicecheck.stage NAME SPEC.json RESULT.json

The runner starts it with a time cap and kills it past the cap. The stage
writes its figures to RESULT.json as it goes (:class:`Recorder`), so what a
killed or crashed stage had measured still reaches the report.
"""
import importlib
import json
import os
import sys
import traceback
from typing import Any, Dict

from .plan import STAGES


class Recorder:
    """A stage's result, rewritten atomically on every change:
    ``status`` (``running``, ``ok``, ``failed``), a one-line ``summary``,
    ``figures`` and ``skipped`` (what could not run here, and why)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: Dict[str, Any] = dict(status='running', summary='',
                                         figures={}, skipped={})
        self.save()

    def save(self) -> None:
        tmp = f'{self.path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.data, f, indent=1, default=_jsonable)
        os.replace(tmp, self.path)

    def set(self, key: str, value: Any) -> None:
        self.data['figures'][key] = value
        self.save()

    def add(self, key: str, item: Any) -> None:
        self.data['figures'].setdefault(key, []).append(item)
        self.save()

    def skip(self, what: str, reason: str) -> None:
        self.data['skipped'][what] = reason
        self.save()

    def finish(self, summary: str, status: str = 'ok') -> None:
        self.data.update(summary=summary, status=status)
        self.save()


def _jsonable(x: Any) -> Any:
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def guard_mmpretrain_multimodal() -> str:
    """mmpretrain 1.2 imports its multimodal models (BLIP, OFA...) whenever
    ``pycocotools`` and ``transformers >= 4.28`` are both installed, and
    those import names ``transformers`` 5 no longer has, so
    ``import mmpretrain.models`` fails. Where that would happen, switch
    mmpretrain's multimodal flag off, as it is without those packages
    (placeholders for the multimodal models; nothing the check uses
    changes). Returns what was done, for the report."""
    from importlib import metadata
    try:
        from mmpretrain.utils import dependency
    except ImportError as e:
        return f'not checked: {e}'
    if not dependency.WITH_MULTIMODAL:
        return 'off (pycocotools or transformers >= 4.28 missing)'
    version = metadata.version('transformers')
    if int(version.split('.')[0]) >= 5:
        dependency.WITH_MULTIMODAL = False
        return (f'switched off: pycocotools with transformers {version} '
                'would break `import mmpretrain.models`')
    return f'on (transformers {version})'


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    name, spec_path, result_path = argv
    funcs = {s[0]: s[1] for s in STAGES}
    if name not in funcs:
        print(f'unknown stage {name!r}; the stages are {list(funcs)}',
              file=sys.stderr)
        return 2
    with open(spec_path) as f:
        spec = json.load(f)
    rec = Recorder(result_path)
    rec.data['mmpretrain_multimodal'] = guard_mmpretrain_multimodal()
    module, func = funcs[name].split(':')
    try:
        run = getattr(importlib.import_module(
            f'cvt_backbone.devicecheck.{module}'), func)
        run(spec, rec)
    except Exception as e:  # the report shows it; the next stage runs
        traceback.print_exc()
        rec.data['error'] = f'{type(e).__name__}: {e}'.strip()[:2000]
        rec.finish(rec.data.get('summary') or
                   f'failed: {type(e).__name__}: {str(e)[:200]}', 'failed')
        return 1
    if rec.data['status'] == 'running':
        rec.finish(rec.data.get('summary') or 'done')
    return 0


if __name__ == '__main__':
    sys.exit(main())
