"""The device check's targets, computed from its figures, and its Markdown
report.

The targets (issue "On the GPU", item 4; benchmarks, not tests):

* inference at 1024x1024 and 800x1333: ours at least 5x ``transformers``'
  speed at no more than 10% of its peak memory, fp32 and bf16, at every
  batch measured;
* the classifier training step at 224 batch 256 in bf16: at least 1.5x
  ``transformers``' images/s;
* the one-GPU training loop GPU-bound: data wait under 5% of the
  iteration, or else the loader cores it would need.

Each target line is ``passed`` True or False, or None where the figures to
judge it are missing (a stage that did not run, a run out of memory, no
CUDA memory statistics on the CPU), with the reason.
"""
import traceback
from typing import Any, Dict, List, Optional

INFER_CASES = ('infer1024', 'infer800x1333')
INFER_SPEEDUP = 5.0
INFER_MEMORY = 0.10
TRAIN_CASE = ('train224', 256, 'bf16')
TRAIN_SPEEDUP = 1.5
DATA_WAIT = 0.05
NAMES = dict(ours='ours', ours_cp='ours, with_cp', theirs='transformers')


def _rows(results: Dict[str, Any], stage: str) -> List[Dict[str, Any]]:
    st = results.get('stages', {}).get(stage) or {}
    return (st.get('figures') or {}).get('rows') or []


def _pairs(rows: List[Dict[str, Any]]) -> Dict[tuple, Dict[str, Dict]]:
    """``(case, batch, dtype) -> {variant: row}``."""
    out: Dict[tuple, Dict[str, Dict]] = {}
    for r in rows:
        out.setdefault((r['case'], r['batch'], r['dtype']),
                       {})[r['variant']] = r
    return out


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def infer_targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = _rows(results, 'speed_infer')
    lines = []
    for (case, batch, dtype), v in sorted(_pairs(rows).items()):
        if case not in INFER_CASES:
            continue
        line = dict(target=f'inference >= {INFER_SPEEDUP:g}x transformers '
                    f'at <= {100 * INFER_MEMORY:g}% of its peak memory',
                    case=f'{case} b{batch} {dtype}', passed=None)
        ours, theirs = v.get('ours', {}), v.get('theirs', {})
        if 'time_s' not in ours:
            line['note'] = f"ours: {ours.get('error', 'not measured')}"
        elif 'time_s' not in theirs:
            line['note'] = ('transformers: '
                            f"{theirs.get('error', 'not measured')}")
        else:
            speedup = theirs['time_s'] / ours['time_s']
            mem = _ratio(ours.get('peak_mb'), theirs.get('peak_mb'))
            line.update(speedup=speedup, memory_ratio=mem,
                        measured=f'{speedup:.2f}x' + (
                            f', {100 * mem:.1f}% memory' if mem is not None
                            else ', memory not measured'))
            if mem is None:
                line['note'] = 'no CUDA memory statistics (CPU)'
            else:
                line['passed'] = bool(speedup >= INFER_SPEEDUP
                                      and mem <= INFER_MEMORY)
        lines.append(line)
    if not lines:
        lines.append(dict(target='inference at 1024x1024 and 800x1333',
                          case='-', passed=None,
                          note='speed_infer measured no such case'))
    return lines


def train_target(results: Dict[str, Any]) -> Dict[str, Any]:
    rows = _rows(results, 'speed_train')
    pairs = _pairs(rows)
    case, batch, dtype = TRAIN_CASE
    line = dict(target=f'training step >= {TRAIN_SPEEDUP:g}x transformers\' '
                'images/s', case=f'{case} b{batch} {dtype}', passed=None)
    v = pairs.get(TRAIN_CASE)
    if v is None and results.get('dry_run'):  # the dry run's small batch
        v = next((p for (c, _, d), p in pairs.items()
                  if c == case and d == dtype), None)
        if v is not None:
            line['case'] = f'{case} (dry run size) {dtype}'
    ours, theirs = (v or {}).get('ours', {}), (v or {}).get('theirs', {})
    if 'images_per_s' in ours and 'images_per_s' in theirs:
        s = ours['images_per_s'] / theirs['images_per_s']
        line.update(speedup=s, measured=f'{s:.2f}x',
                    passed=bool(s >= TRAIN_SPEEDUP))
    else:
        line['note'] = 'not measured: ' + (
            ours.get('error') or theirs.get('error') or 'speed_train has no '
            'such row')
    return line


def loop_target(results: Dict[str, Any]) -> Dict[str, Any]:
    st = results.get('stages', {}).get('loop') or {}
    fig = st.get('figures') or {}
    loop = fig.get('loop')
    line = dict(target=f'training loop GPU-bound: data wait < '
                f'{100 * DATA_WAIT:g}% of the iteration, or the cores it '
                'needs', case='tools/train.py configs/cvt13_classify.py',
                passed=None)
    if not loop:
        line['note'] = f"not measured: {st.get('error') or st.get('status')}"
        return line
    share = loop['data_wait_share']
    line.update(data_wait_share=share, passed=bool(share < DATA_WAIT),
                measured=f"data wait {100 * share:.1f}% at "
                f"{loop['workers']} workers")
    need = fig.get('cores_needed')
    if need is not None:
        line['cores_needed'] = need
        line['note'] = (f'{need} cores keep it fed (device alone '
                        f"{loop['compute_images_per_s']:.3g} img/s, one core "
                        f"{fig['pipeline_one_core']['images_per_s']:.3g})")
    return line


def evaluate_targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every target line, judged from ``results`` (the check's JSON)."""
    return infer_targets(results) + [train_target(results),
                                     loop_target(results)]


# -- Markdown ---------------------------------------------------------------
def _verdict(passed: Optional[bool]) -> str:
    return {True: 'PASS', False: 'FAIL', None: 'n/a'}[passed]


def _f(v: Any, fmt: str = '{:.3g}') -> str:
    if v is None:
        return ''
    try:
        return fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    out = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return out + ['']


def _section_stages(results) -> List[str]:
    rows = []
    for name, st in results.get('stages', {}).items():
        rows.append([name, st.get('status'), _f(st.get('elapsed_s'), '{:.0f}'),
                     _f(st.get('cap_s'), '{:.0f}'),
                     (st.get('summary') or st.get('error') or '')
                     .replace('|', '/')])
    return ['## Stages', ''] + _table(
        ['stage', 'status', 'time (s)', 'cap (s)', 'result'], rows)


def _section_targets(results) -> List[str]:
    rows = [[t['target'], t['case'], t.get('measured', ''),
             _verdict(t['passed']), t.get('note', '')]
            for t in results.get('targets', [])]
    out = ['## Targets', '']
    if results.get('dry_run'):
        from .plan import DRY_RUN_DIFFERENCES
        out += ['Dry run: CPU, tiny CvT, small inputs; the lines show the '
                'logic, not the targets. What differs from the GPU run:', '']
        out += [f'- {d}' for d in DRY_RUN_DIFFERENCES] + ['']
    return out + _table(['target', 'case', 'measured', 'result', 'note'],
                        rows)


def _section_checks(results) -> List[str]:
    rows, skipped = [], []
    for name, st in results.get('stages', {}).items():
        for check, ok in ((st.get('figures') or {}).get('checks')
                          or {}).items():
            rows.append([name, check, _verdict(ok)])
        for what, why in (st.get('skipped') or {}).items():
            skipped.append([name, what, why.replace('|', '/')])
    out = ['## Checks', ''] + _table(['stage', 'check', 'result'], rows)
    if skipped:
        out += ['Skipped:', ''] + _table(['stage', 'what', 'why'], skipped)
    return out


def _section_correctness(results) -> List[str]:
    fig = (results.get('stages', {}).get('correctness') or {}).get('figures')
    if not fig:
        return []
    rows = []
    for model in ('backbone', 'classifier', 'segmenter'):
        for r in fig.get(model, []):
            rows.append([model, r['size'], _f(r['strict'], '{:.2e}'),
                         _f(r['default'], '{:.2e}')])
    out = ['## Correctness (device vs CPU fp32, max relative error)', '']
    out += _table(['model', 'input', 'TF32 off', 'torch defaults'], rows)
    if 'fuse' in fig:
        out += [f"fuse() vs eager: {fig['fuse']['rel_err']:.2e}", '']
    comp = fig.get('compile')
    if comp:
        line = (f"torch.compile ({comp['backend']}) vs eager at "
                f"{comp['size']}: {comp['rel_err']:.2e}, first call "
                f"{comp['first_call_s']:.1f} s")
        if 'compiled_s' in comp:
            line += (f"; forward {comp['compiled_s'] * 1e3:.2f} ms compiled, "
                     f"{comp['eager_s'] * 1e3:.2f} ms eager")
        out += [line, '']
    kr = []
    for k in fig.get('sdpa_kernels', []):
        stages = k['kernels']
        cells = [', '.join(f'{n} x{c}' for n, c in sorted(
            stages.get(s, {}).items())) for s in
            ('stage0', 'stage1', 'stage2', 'backward')]
        kr.append([k['size'], k['dtype'], k['mode']] + cells)
    if kr:
        out += ['SDPA kernels run per CvT stage (calls):', '']
        out += _table(['input', 'dtype', 'mode', 'stage 0', 'stage 1',
                       'stage 2', 'backward'], kr)
    worst: Dict[tuple, Dict[str, Any]] = {}
    for r in fig.get('sdpa_scale', []):
        key = (r['backend'], r['dtype'])
        w = worst.setdefault(key, dict(err=0., finite=True, error=None))
        if 'error' in r:
            w['error'] = r['error']
        else:
            w['err'] = max(w['err'], r['rel_err'])
            w['finite'] = w['finite'] and r['finite']
    if worst:
        out += ['Each SDPA backend forced, our scale=C^-0.5, on the stages\' '
                'shapes (q/k magnitudes 1 and 30), against the softmax '
                'written out in fp64:', '']
        out += _table(['backend', 'dtype', 'max rel. error', 'finite',
                       'refused'],
                      [[b, d, _f(w['err'], '{:.1e}'), w['finite'],
                        (w['error'] or '').replace('|', '/')]
                       for (b, d), w in sorted(worst.items())])
    return out


def _section_amp(results) -> List[str]:
    fig = (results.get('stages', {}).get('amp') or {}).get('figures')
    if not fig or 'runs' not in fig:
        return []
    rows = []
    for dtype, r in fig['runs'].items():
        rows.append([dtype, r['steps'], _f(r['first_loss'], '{:.3f}'),
                     _f(r['final_loss'], '{:.3f}'),
                     f"[{_f(r['tail_min'], '{:.3f}')}, "
                     f"{_f(r['tail_max'], '{:.3f}')}]",
                     r['nonfinite'], r['skipped_steps'],
                     _f(r['final_scale'], '{:g}'),
                     ', '.join(f'{a:.0f}' for a in r['max_activation']),
                     _f(r['seconds'], '{:.0f}')])
    return ['## Mixed precision (training on the generated set)', ''] + \
        _table(['dtype', 'steps', 'first loss', 'final loss',
                'last-steps range', 'non-finite', 'skipped steps',
                'final scale', 'max activation per stage', 'time (s)'], rows)


def _speed_table(rows: List[Dict[str, Any]]) -> List[str]:
    pairs = _pairs(rows)
    out = []
    for r in rows:
        ref = pairs[(r['case'], r['batch'], r['dtype'])].get('theirs', {})
        if 'error' in r:
            out.append([r['case'], f"{r['batch']}x{r['h']}x{r['w']}",
                        r['dtype'], NAMES.get(r['variant'], r['variant']),
                        r['error'], '', '', '', '', ''])
            continue
        speed = _ratio(ref.get('time_s'), r['time_s'])
        mem = _ratio(r.get('peak_mb'), ref.get('peak_mb'))
        out.append([r['case'], f"{r['batch']}x{r['h']}x{r['w']}", r['dtype'],
                    NAMES.get(r['variant'], r['variant']),
                    f"{r['time_s'] * 1e3:.1f} ms",
                    f"{r['images_per_s']:.3g}", _f(speed, '{:.2f}x'),
                    _f(r.get('peak_mb'), '{:.0f}'), _f(mem, '{:.1%}'),
                    _f(r.get('working_mb'), '{:.0f}')])
    return _table(['case', 'input', 'dtype', 'implementation', 'time / step',
                   'images/s', 'speed-up', 'peak MiB', 'memory vs theirs',
                   'working MiB'], out)


def _section_speed(results) -> List[str]:
    out = []
    for stage, title in (('speed_infer', 'Inference'),
                         ('speed_train', 'Training step (classifier)')):
        rows = _rows(results, stage)
        if rows:
            out += [f'## {title}: ours vs transformers, identical weights',
                    ''] + _speed_table(rows)
    return out


def _section_loop(results) -> List[str]:
    fig = (results.get('stages', {}).get('loop') or {}).get('figures') or {}
    loop = fig.get('loop')
    if not loop:
        return []
    core = fig.get('pipeline_one_core', {})
    return ['## Training loop (tools/train.py configs/cvt13_classify.py)',
            ''] + _table(
        ['batch', 'workers', 'precision', 'iterations timed',
         'images/s end to end', 'iteration (ms)', 'data wait (ms)',
         'data wait share', 'device alone (img/s)',
         'pipeline, one core (img/s)', 'cores needed'],
        [[loop['batch'], loop['workers'], loop['amp_dtype'],
          loop['iterations'], f"{loop['images_per_s']:.3g}",
          f"{loop['time_s'] * 1e3:.1f}", f"{loop['data_time_s'] * 1e3:.2f}",
          f"{100 * loop['data_wait_share']:.1f}%",
          f"{loop['compute_images_per_s']:.3g}",
          _f(core.get('images_per_s'), '{:.3g}'),
          fig.get('cores_needed', '')]])


def _section_env(results) -> List[str]:
    fig = (results.get('stages', {}).get('env') or {}).get('figures')
    if not fig:
        return []
    out = ['## Environment', '']
    host = fig.get('host', {})
    out.append('- host: ' + ', '.join(f'{k} {v}' for k, v in host.items()))
    out.append('- versions: ' + ', '.join(
        f'{k} {v}' for k, v in fig.get('versions', {}).items()))
    out.append('- model packages: ' + '; '.join(
        f'{k}: {v}' for k, v in fig.get('model_packages', {}).items()))
    out.append(f"- mmcv.ops: {fig.get('mmcv_ops')}")
    if fig.get('matmul_tflops'):
        out.append('- matmul peak: ' + ', '.join(
            f'{k} {v:.3g} TFLOP/s' for k, v in fig['matmul_tflops'].items()))
    bundle = fig.get('bundle')
    if isinstance(bundle, dict):
        out.append(f"- bundle: installed {', '.join(bundle['installed'])} "
                   f"in {bundle['seconds']} s; the host had "
                   f"{', '.join(bundle['present'])}")
    elif bundle:
        out.append(f'- bundle: {bundle}')
    mm = results.get('mmpretrain_multimodal')
    if mm:
        out.append(f"- mmpretrain's multimodal models: {mm}")
    return out + ['']


SECTIONS = (_section_stages, _section_targets, _section_checks,
            _section_correctness, _section_amp, _section_speed,
            _section_loop, _section_env)


def render_markdown(results: Dict[str, Any]) -> str:
    """The report; a section that cannot be rendered from the figures says
    so instead of stopping the report."""
    mode = 'dry run (CPU, tiny sizes)' if results.get('dry_run') else 'GPU'
    lines = [f'# CvT device check: {mode}', '',
             f"{results.get('date', '')}; {results.get('host_line', '')}; "
             f"{results.get('wall_s', 0):.0f} s of a "
             f"{results.get('budget_s', 0):.0f} s budget; command: "
             f"`{results.get('command', '')}`", '']
    for section in SECTIONS:
        try:
            lines += section(results)
        except Exception as e:
            lines += [f'({section.__name__[9:]}: not rendered: '
                      f'{type(e).__name__}: {e})', '',
                      '<!-- ' + traceback.format_exc().replace('--', '- -')
                      + ' -->', '']
    return '\n'.join(lines).rstrip() + '\n'
