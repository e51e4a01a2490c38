"""The benchmark's report: the Markdown tables of ``table.md`` (models,
classifier training step, input pipeline, train loop, the notes comparing
dtypes and runtimes, the profiles), the time/memory plot ``plot.png`` and
the one-line summaries logged as rows come in. Everything here reads a
``results.json`` dict alone, so an earlier run's results render again
without measuring."""
import json
import os.path as osp
from typing import Any, Dict, List

from .cases import PIPELINES, VARIANTS, variant_label


def pipeline_summary(row: Dict[str, Any]) -> str:
    """One line for a pipeline or train-loop row."""
    if 'time_s' not in row:
        return f'{row["case"]:<14} {row["variant"]:<13} failed'
    s = (f'{row["case"]:<14} {row["variant"]:<13} '
         f'{row["time_s"] * 1e3:9.2f} ms  {row["images_per_s"]:7.1f} img/s')
    if 'of_decode' in row:
        s += f'  {100 * row["of_decode"]:.0f}% of decode'
    return s


def row_summary(row: Dict[str, Any]) -> str:
    """One line for a model row."""
    if 'time_s' not in row:
        return (f'{row["case"]:<14} {row["dtype"]:<5} '
                f'{row["variant"]:<13} failed')
    s = (f'{row["case"]:<14} {row["dtype"]:<5} {row["variant"]:<13} '
         f'{row["time_s"] * 1e3:9.1f} ms  {row["images_per_s"]:7.2f} img/s  '
         f'{row["mem_mb"]:8.0f} MiB')
    if 'speedup' in row and row['variant'] != 'theirs':
        s += f'  speed x{row["speedup"]:.2f}'
        if row.get('mem_ratio') is not None:
            s += f'  mem {100 * row["mem_ratio"]:.1f}%'
    if row.get('useful_flops'):
        s += f'  {row["useful_flops"] / 1e9:.0f} GFLOP/s'
    return s


def render_table(results: Dict[str, Any]) -> str:
    """Markdown: the model table (inference and backbone training), the
    classifier training-step table, the input-pipeline tables, and the
    profiles when recorded."""
    rows = results['rows']
    lines: List[str] = []
    model = [r for r in rows if r['mode'] in ('infer', 'train')]
    step = [r for r in rows if r['mode'] == 'train_cls']
    if model or step:
        arch = results['arch']
        lines += [
            f'CvT ({arch["depths"]} blocks, dims {arch["embed_dims"]}) on '
            f'{results["machine"]} ({results["device"]}), torch '
            f'{results["torch"]}, {results["date"]}; medians of '
            f'{results["repeats"]} fresh-process runs x {results["iters"]} '
            'steps. Speed-up and memory are relative to transformers\' CvT '
            'on the same weights. Memory: ' + results['memory'] + '.', '']
        peak = results.get('matmul_peak_flops')
        if peak:
            lines += [f'fp32 matmul peak of this machine: {peak / 1e9:.0f} '
                      'GFLOP/s.', '']
    if model:
        lines += _model_table(model)
    if step:
        lines += ['', 'Training step of the classifier (forward, '
                  'cross-entropy, backward, AdamW step) against '
                  "transformers' CvtForImageClassification:", '']
        lines += _model_table(step, flops=False)
    extra = _bf16_notes(model + step) + onnx_ratios(model)
    if extra:
        lines += [''] + extra
    pipe = [r for r in rows if r['mode'] == 'pipeline']
    if pipe:
        lines += [''] + _pipeline_table(pipe, results)
    loop = [r for r in rows if r['mode'] == 'trainloop']
    if loop:
        lines += [''] + _trainloop_table(loop, pipe)
    for r in model + step:
        if r.get('profile'):
            name = variant_label(r['variant'])
            lines += ['', f'Where the time goes: {r["case"]} {r["dtype"]} '
                      f'{name} (one step, top ops by self '
                      'CPU time):', '', '| op | calls | ms | share |',
                      '|---|---:|---:|---:|']
            lines += [f'| {p["name"]} | {p["calls"]} | {p["ms"]:.1f} | '
                      f'{100 * p["share"]:.1f}% |' for p in r['profile']]
    return '\n'.join(lines) + '\n'


def _model_table(rows: List[Dict[str, Any]], flops: bool = True
                 ) -> List[str]:
    lines = ['| case | input | dtype | implementation | time / step | '
             'images/s | speed-up | memory (MiB) | memory vs theirs |' +
             (' useful GFLOP/s |' if flops else ''),
             '|---|---|---|---|---:|---:|---:|---:|---:|' +
             ('---:|' if flops else '')]
    for r in rows:
        what = ('inference' if r['mode'] == 'infer' else 'train step')
        inp = f'{what} {r["batch"]}x{r["h"]}x{r["w"]}'
        name = variant_label(r['variant'])
        if 'time_s' not in r:
            lines.append(f'| {r["case"]} | {inp} | {r["dtype"]} | {name} | '
                         'failed | | | | |' + (' |' if flops else ''))
            continue
        sp = f'{r["speedup"]:.2f}x' if 'speedup' in r else ''
        mr = (f'{100 * r["mem_ratio"]:.1f}%'
              if r.get('mem_ratio') is not None else '')
        fl = (f' {r["useful_flops"] / 1e9:.0f} |' if r.get('useful_flops')
              else ' |') if flops else ''
        lines.append(
            f'| {r["case"]} | {inp} | {r["dtype"]} | {name} '
            f'| {r["time_s"] * 1e3:.1f} ms | {r["images_per_s"]:.2f} | {sp} '
            f'| {r["mem_mb"]:.0f} | {mr} |' + fl)
    return lines


def _bf16_notes(rows: List[Dict[str, Any]]) -> List[str]:
    done = {(r['case'], r['variant'], r['dtype']): r for r in rows
            if 'time_s' in r}
    notes = []
    for (case, v, dtype), r in done.items():
        fp = done.get((case, v, 'fp32'))
        if dtype == 'bf16' and fp:
            notes.append(f'- bf16 autocast vs fp32, {case}, '
                         f'{variant_label(v)}: '
                         f'{fp["time_s"] / r["time_s"]:.2f}x')
    return notes


def _pipeline_table(rows: List[Dict[str, Any]], results) -> List[str]:
    first = next((r for r in rows if 'images' in r), rows[0])
    lines = [
        f'Training input pipeline at {first["h"]}, one core (one process, '
        f'one thread), {first.get("images", "?")} image passes over '
        f'generated ImageNet-sized JPEGs (500 px long side, quality 92, '
        f'photo-like), all implementations in the same process, alternating '
        f'image by image; medians of {results["repeats"]} processes. '
        'The last two columns scale the per-core rate to a GPU host with 8 '
        'and 16 loader cores (an upper bound: the training process needs '
        'some of them).', '',
        '| pipeline | ms / image | images/s per core | of decode-alone '
        'throughput | 8 cores | 16 cores |', '|---|---:|---:|---:|---:|---:|']
    for r in rows:
        name = PIPELINES.get(r['variant'], r['variant'])
        if 'time_s' not in r:
            lines.append(f'| {name} | failed | | | | |')
            continue
        ofd = f'{100 * r["of_decode"]:.0f}%' if 'of_decode' in r else ''
        lines.append(f'| {name} | {r["time_s"] * 1e3:.2f} | '
                     f'{r["images_per_s"]:.0f} | {ofd} | '
                     f'{8 * r["images_per_s"]:.0f} | '
                     f'{16 * r["images_per_s"]:.0f} |')
    lines += ['', 'Per step (ms / image):', '']
    for r in rows:
        if r.get('steps') and r['variant'] != 'decode':
            lines.append(f'- {r["variant"]}: ' + ', '.join(
                f'{name} {t * 1e3:.2f}' for name, t in r['steps']))
    return lines


def _trainloop_table(rows: List[Dict[str, Any]],
                     pipe: List[Dict[str, Any]]) -> List[str]:
    ours = next((r for r in pipe if r['variant'] == 'ours'
                 and 'time_s' in r), None)
    lines = [
        'tools/train.py configs/cvt13_classify.py on the same JPEGs (its '
        'pipeline, loader and data preprocessor with Mixup/CutMix, batch '
        f'{rows[0]["batch"]}; a model step that costs nothing, so that the '
        'loader sets the pace; the training process on one thread), the '
        'epochs after the first (workers started):', '',
        '| loader workers | images/s | per worker | data wait / iteration |' +
        (' per worker vs the one-core pipeline |' if ours else ''),
        '|---:|---:|---:|---:|' + ('---:|' if ours else '')]
    for r in rows:
        if 'time_s' not in r:
            lines.append(f'| {r["workers"]} | failed | | |' +
                         (' |' if ours else ''))
            continue
        per = r['images_per_s'] / max(r['workers'], 1)
        lines.append(f'| {r["workers"]} | {r["images_per_s"]:.0f} | '
                     f'{per:.0f} | {r["data_time_s"] * 1e3:.0f} ms |' +
                     (f' {100 * per / ours["images_per_s"]:.0f}% |'
                      if ours else ''))
    return lines


def onnx_ratios(rows: List[Dict[str, Any]]) -> List[str]:
    """Speed of onnxruntime over the fused and the unfused eager model,
    per case (time ratios, > 1: onnxruntime is faster)."""
    timed = {(r['case'], r['dtype'], r['variant']): r['time_s']
             for r in rows if 'time_s' in r}
    lines = []
    for (case, dtype, v), t in timed.items():
        if v not in VARIANTS or VARIANTS[v].onnx is None:
            continue
        for ref, what in (('ours', 'fused eager'),
                          ('ours_unfused', 'eager, BatchNorm not folded')):
            if (case, dtype, ref) in timed:
                lines.append(f'- {VARIANTS[v].runtime} vs torch {what}, '
                             f'{case} {dtype}: '
                             f'{timed[(case, dtype, ref)] / t:.2f}x')
    return lines


def render_plot(results: Dict[str, Any], path: str) -> None:
    """Time and memory against input pixels for the batch-1 inference cases,
    one line per implementation and dtype."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: Dict[str, List] = {}
    for r in results['rows']:
        if r['mode'] != 'infer' or 'time_s' not in r:
            continue
        key = f'{r["variant"]} {r["dtype"]} (batch {r["batch"]})'
        series.setdefault(key, []).append(r)
    for key, rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r['h'] * r['w'])
        mp = [r['h'] * r['w'] / 1e6 for r in rs]
        style = '--' if key.startswith('theirs') else '-'
        ax_t.plot(mp, [r['time_s'] * 1e3 for r in rs], style, marker='o',
                  label=key)
        ax_m.plot(mp, [max(r['mem_mb'], 1e-3) for r in rs], style,
                  marker='o', label=key)
    for ax, title in ((ax_t, 'inference time per step (ms)'),
                      (ax_m, 'working memory (MiB)')):
        ax.set_xlabel('input megapixels')
        ax.set_title(title)
        ax.set_yscale('log')
        ax.grid(True, alpha=0.3)
    ax_t.legend(fontsize=7)
    fig.suptitle(f'CvT vs transformers CvtModel, {results["machine"]}',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(results: Dict[str, Any], out_dir: str) -> None:
    """``results.json``, ``table.md`` and (when an inference case ran)
    ``plot.png`` in ``out_dir``."""
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(out_dir, 'table.md'), 'w') as f:
        f.write(render_table(results))
    if any(r['mode'] == 'infer' and 'time_s' in r for r in results['rows']):
        render_plot(results, osp.join(out_dir, 'plot.png'))
