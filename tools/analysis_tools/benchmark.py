"""Side-by-side benchmark: our CvT against ``transformers``' CvtModel.

Both run identical weights: a randomly initialised ``CvtModel`` is saved
once, and each worker loads it (theirs directly, ours through the converter
``convert_cvt_state_dict``, with ``act_cfg=GELU`` so the numerics are the
same). Every measurement runs in its own fresh subprocess (this script
with ``--worker SPEC``) so peak memory belongs to that measurement alone;
the implementations alternate, each pair is repeated, and medians are
reported.

Memory: on CPU the worker reports the process's peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS right after the model was
built; the table shows *peak minus that baseline* (the working memory of the
measured step: activations, attention buffers, gradients and optimizer
state) and the JSON has both. On CUDA it reports
``torch.cuda.max_memory_allocated`` minus the allocation after the build.

    python tools/analysis_tools/benchmark.py --out docs/benchmark
    python tools/analysis_tools/benchmark.py --cases infer1024 \
        --variants ours theirs --repeats 1 --dtypes fp32
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

# name -> mode, batch, H, W
CASES: Dict[str, Dict[str, Any]] = {
    'infer224': dict(mode='infer', batch=32, h=224, w=224),
    'infer512': dict(mode='infer', batch=1, h=512, w=512),
    'infer1024': dict(mode='infer', batch=1, h=1024, w=1024),
    'infer800x1333': dict(mode='infer', batch=1, h=800, w=1333),
    'train224': dict(mode='train', batch=16, h=224, w=224),
    'train512': dict(mode='train', batch=2, h=512, w=512),
}
# ours: eager (BatchNorm folded for inference); ours_cp: with_cp=True
# (training only); ours_compile: torch.compile'd; theirs: transformers;
# ours_unfused: eager with the projection BatchNorms left unfolded
# (inference only); ours_onnx, ours_onnx23: onnxruntime (CPU, as many
# intra-op threads as torch's) on the fused model exported by
# cvt_backbone.apis.export_onnx at opset 18 (the default: attention as
# MatMul/Softmax, the T x T matrix materialised) and at opset 23 (ONNX's
# Attention op) (inference, fp32, CPU only).
ONNX_OPSETS = {'ours_onnx': 18, 'ours_onnx23': 23}
VARIANTS = ('ours', 'theirs', 'ours_cp', 'ours_compile',
            'ours_unfused') + tuple(ONNX_OPSETS)
DEFAULT_VARIANTS = ('ours', 'theirs', 'ours_cp')
INFER_ONLY = ('ours_unfused', ) + tuple(ONNX_OPSETS)


def applies(variant: str, mode: str, dtype: str) -> bool:
    """Whether ``variant`` is measured in a case of ``mode``/``dtype``."""
    if variant == 'ours_cp':
        return mode == 'train'
    if variant in INFER_ONLY and mode != 'infer':
        return False
    return not (variant in ONNX_OPSETS and dtype != 'fp32')


def parse_arch(arch: Any) -> Dict[str, List[int]]:
    """``'13'``/``'cvt-21'``/``'w24'``, a dict or its JSON -> per-stage
    ``embed_dims``, ``depths``, ``num_heads`` (resolved by ``CvT``)."""
    from cvt_backbone.models import CvT
    if isinstance(arch, str) and arch.lstrip().startswith('{'):
        arch = json.loads(arch)
    full = CvT.resolve_arch(arch)
    return {k: list(full[k]) for k in ('embed_dims', 'depths', 'num_heads')}


def save_reference_weights(arch: Dict[str, List[int]], path: str,
                           seed: int = 0) -> None:
    """A randomly initialised ``CvtModel`` state dict, with non-trivial BN
    statistics, saved to ``path``."""
    import torch

    from cvt_backbone.testing import make_hf_cvt
    torch.save(make_hf_cvt(arch, num_labels=None, seed=seed).state_dict(),
               path)


# -- worker (runs in its own process) ---------------------------------------
def _rss_now_mb() -> float:
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_model(spec: Dict[str, Any]):
    """The model a spec names, loaded with the saved reference weights."""
    import torch
    arch = parse_arch(spec['arch'])
    state = torch.load(spec['weights'], map_location='cpu', weights_only=True)
    variant = spec['variant']
    if variant == 'theirs':
        import transformers

        from cvt_backbone.testing.reference import hf_config
        model = transformers.CvtModel(hf_config(arch))
        model.load_state_dict(state)
    else:
        from cvt_backbone.models import CvT
        from cvt_backbone.models.backbones.cvt import convert_cvt_state_dict
        converted, _ = convert_cvt_state_dict(state)
        backbone = {k[len('backbone.'):]: v for k, v in converted.items()
                    if k.startswith('backbone.')}
        model = CvT(arch, act_cfg=dict(type='GELU'), drop_path_rate=0.,
                    out_indices=(2, ), with_cp=variant == 'ours_cp')
        model.load_state_dict(backbone)
    del state
    if spec['mode'] == 'infer':
        model.eval()
        if variant not in ('theirs', 'ours_unfused'):
            model.fuse()
    else:
        model.train()
    if variant in ONNX_OPSETS:
        return onnx_session(model, spec, ONNX_OPSETS[variant])
    return model.to(spec['device'])


def onnx_session(model, spec: Dict[str, Any], opset: int):
    """An onnxruntime session on ``model`` exported to ONNX at ``opset``
    (checked against torch by the export), with torch's thread count. The
    file is exported once per run and opset, beside the reference weights,
    and reused by the later workers."""
    import torch

    from cvt_backbone.apis import export_onnx
    from cvt_backbone.apis.deploy import ort_session
    if spec['device'] != 'cpu' or spec['mode'] != 'infer':
        raise ValueError('onnxruntime variants measure CPU inference only')
    path = f'{spec["weights"]}.opset{opset}.onnx'
    if not os.path.exists(path):
        tmp = f'{path}.{os.getpid()}.tmp.onnx'
        export_onnx(model, tmp, input_size=(64, 64), opset=opset)
        os.replace(tmp, path)
    return ort_session(path, threads=torch.get_num_threads())


def _forward_fn(model, variant: str):
    if variant in ONNX_OPSETS:  # an onnxruntime session
        feed = model.get_inputs()[0].name
        return lambda x: model.run(None, {feed: x.numpy()})[-1]
    if variant == 'theirs':
        return lambda x: model(x).last_hidden_state
    if variant == 'ours_compile':
        import torch
        compiled = torch.compile(model)
        return lambda x: compiled(x)[-1]
    return lambda x: model(x)[-1]


def run_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One measurement: build, warm up, time ``iters`` steps; returns times
    (s per step) and memory (MiB)."""
    import torch
    torch.set_num_threads(spec.get('threads') or os.cpu_count() or 1)
    device = spec['device']
    cuda = device.startswith('cuda')
    if spec['variant'] == 'peak':
        return _matmul_peak(spec['size'], device, spec.get('iters', 3))

    model = build_model(spec)
    forward = _forward_fn(model, spec['variant'])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(spec['batch'], 3, spec['h'], spec['w'],
                    generator=g).to(device)
    bf16 = spec['dtype'] == 'bf16'
    autocast = torch.autocast(device.split(':')[0], dtype=torch.bfloat16,
                              enabled=bf16)
    train = spec['mode'] == 'train'
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4) if train else None

    def step() -> None:
        if train:
            opt.zero_grad(set_to_none=True)
            with autocast:
                out = forward(x)
            out.float().square().mean().backward()
            opt.step()
        else:
            with torch.no_grad(), autocast:
                forward(x)

    import gc
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    base_rss = _rss_now_mb()
    times = []
    for i in range(spec['warmup'] + spec['iters']):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        if i >= spec['warmup']:
            times.append(time.perf_counter() - t0)
    out = dict(times=times, time=statistics.median(times),
               rss_after_build_mb=base_rss, peak_rss_mb=_peak_rss_mb(),
               mem_mb=_peak_rss_mb() - base_rss)
    if cuda:
        out['cuda_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
        out['mem_mb'] = (torch.cuda.max_memory_allocated() - base) / 2**20
    return out


def _matmul_peak(n: int, device: str, iters: int) -> Dict[str, Any]:
    """fp32 matrix-multiply FLOP/s (2 n^3 per product), best of ``iters``."""
    import torch
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    c = a @ b
    best = float('inf')
    for _ in range(iters):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return dict(time=best, flops=2 * n**3 / best, size=n)


# -- driver -----------------------------------------------------------------
def _spawn(spec: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--worker',
         json.dumps(spec)], capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return dict(error=f'worker exited {proc.returncode}: ' +
                    ' | '.join(tail))
    return json.loads(lines[-1])


def useful_macs(arch: Dict[str, List[int]], h: int, w: int) -> int:
    """Backbone multiply-adds for one image (see :mod:`cvt_backbone.flops`)."""
    import torch

    from cvt_backbone.models import CvT
    from cvt_backbone.utils import count_macs
    return count_macs(CvT(arch, out_indices=(2, )),
                      torch.zeros(1, 3, h, w))['total']


def run_benchmark(out_dir: str, arch: Any = '13',
                  cases: Sequence[str] = tuple(CASES),
                  variants: Sequence[str] = DEFAULT_VARIANTS,
                  dtypes: Optional[Sequence[str]] = None,
                  device: str = 'cpu', repeats: int = 3, warmup: int = 1,
                  iters: int = 3, threads: Optional[int] = None,
                  peak_size: int = 4096,
                  sizes: Optional[Dict[str, Any]] = None,
                  timeout: float = 1800., log=print) -> Dict[str, Any]:
    """Run the benchmark and write ``table.md``, ``results.json`` and
    ``plot.png`` to ``out_dir``. ``sizes`` overrides a case's ``batch``/``h``/
    ``w`` (``{'infer224': {'batch': 2}}``). ``dtypes`` defaults to fp32 and
    bf16 (bf16 runs inference cases only on CPU). Returns the results."""
    arch_d = parse_arch(arch)
    dtypes = list(dtypes or ('fp32', 'bf16'))
    os.makedirs(out_dir, exist_ok=True)
    import torch
    results: Dict[str, Any] = dict(
        arch=arch_d, device=device, machine=machine_info(device),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        torch=torch.__version__, repeats=repeats, iters=iters,
        warmup=warmup, memory=('peak RSS minus RSS after model build (MiB)'
                               if device == 'cpu' else
                               'max_memory_allocated minus after build (MiB)'),
        rows=[])
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, 'cvt_hf.pth')
        save_reference_weights(arch_d, weights)
        peak = _spawn(dict(variant='peak', size=peak_size, device=device,
                           threads=threads, iters=3), timeout)
        results['matmul_peak_flops'] = peak.get('flops')
        if peak.get('flops'):
            log(f'fp32 matmul peak ({peak_size}^2): '
                f'{peak["flops"] / 1e9:.1f} GFLOP/s')
        for name in cases:
            case = dict(CASES[name], **(sizes or {}).get(name, {}))
            macs = useful_macs(arch_d, case['h'], case['w'])
            for dtype in dtypes:
                if (dtype == 'bf16' and device == 'cpu'
                        and case['mode'] == 'train'):
                    continue
                vs = [v for v in variants
                      if applies(v, case['mode'], dtype)]
                runs: Dict[str, List[Dict[str, Any]]] = {v: [] for v in vs}
                for r in range(repeats):
                    for v in (vs if r % 2 == 0 else vs[::-1]):
                        spec = dict(case, variant=v, arch=arch_d,
                                    dtype=dtype, device=device,
                                    warmup=warmup, iters=iters,
                                    threads=threads, weights=weights)
                        res = _spawn(spec, timeout)
                        runs[v].append(res)
                        if 'error' in res:
                            log(f'{name} {dtype} {v}: {res["error"]}')
                for v, rs in runs.items():
                    ok = [x for x in rs if 'error' not in x]
                    row = dict(case=name, dtype=dtype, variant=v, **case,
                               macs_per_image=macs, runs=rs)
                    if ok:
                        t = statistics.median(x['time'] for x in ok)
                        row.update(
                            time_s=t, images_per_s=case['batch'] / t,
                            mem_mb=statistics.median(x['mem_mb'] for x in ok),
                            peak_rss_mb=statistics.median(
                                x['peak_rss_mb'] for x in ok))
                        if case['mode'] == 'infer':
                            row['useful_flops'] = 2 * macs * case['batch'] / t
                    results['rows'].append(row)
                _add_ratios(results['rows'])
                for row in results['rows'][-len(runs):]:
                    log(_row_summary(row))
    write_outputs(results, out_dir)
    return results


def _add_ratios(rows: List[Dict[str, Any]]) -> None:
    ref = {(r['case'], r['dtype']): r for r in rows
           if r['variant'] == 'theirs' and 'time_s' in r}
    for r in rows:
        t = ref.get((r['case'], r['dtype']))
        if t is None or 'time_s' not in r:
            continue
        r['speedup'] = t['time_s'] / r['time_s']
        r['mem_ratio'] = r['mem_mb'] / t['mem_mb'] if t['mem_mb'] > 0 else None


def _row_summary(row: Dict[str, Any]) -> str:
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


def machine_info(device: str) -> str:
    if device.startswith('cuda'):
        import torch
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{cpu}, {os.cpu_count()} CPU threads'


def render_table(results: Dict[str, Any]) -> str:
    """Markdown table: one row per case, dtype and variant."""
    arch = results['arch']
    lines = [
        f'CvT ({arch["depths"]} blocks, dims {arch["embed_dims"]}) on '
        f'{results["machine"]} ({results["device"]}), torch '
        f'{results["torch"]}, {results["date"]}; medians of '
        f'{results["repeats"]} fresh-process runs x {results["iters"]} '
        'steps. Speed-up and memory are relative to transformers\' CvtModel '
        'on the same weights. Memory: ' + results['memory'] + '.',
        '',
    ]
    peak = results.get('matmul_peak_flops')
    if peak:
        lines += [f'fp32 matmul peak of this machine: {peak / 1e9:.0f} '
                  'GFLOP/s.', '']
    lines += ['| case | input | dtype | implementation | time / step | '
              'images/s | speed-up | memory (MiB) | memory vs theirs | '
              'useful GFLOP/s |',
              '|---|---|---|---|---:|---:|---:|---:|---:|---:|']
    names = dict(ours='ours', theirs='transformers', ours_cp='ours, with_cp',
                 ours_compile='ours, torch.compile',
                 ours_unfused='ours, BatchNorm not folded',
                 ours_onnx='ours, onnxruntime (opset 18)',
                 ours_onnx23='ours, onnxruntime (opset 23)')
    for r in results['rows']:
        what = ('inference' if r['mode'] == 'infer' else 'train step')
        inp = f'{what} {r["batch"]}x{r["h"]}x{r["w"]}'
        if 'time_s' not in r:
            lines.append(f'| {r["case"]} | {inp} | {r["dtype"]} | '
                         f'{names[r["variant"]]} | failed | | | | | |')
            continue
        sp = f'{r["speedup"]:.2f}x' if 'speedup' in r else ''
        mr = (f'{100 * r["mem_ratio"]:.1f}%'
              if r.get('mem_ratio') is not None else '')
        fl = (f'{r["useful_flops"] / 1e9:.0f}'
              if r.get('useful_flops') else '')
        lines.append(
            f'| {r["case"]} | {inp} | {r["dtype"]} | {names[r["variant"]]} | '
            f'{r["time_s"] * 1e3:.1f} ms | {r["images_per_s"]:.2f} | {sp} | '
            f'{r["mem_mb"]:.0f} | {mr} | {fl} |')
    bf = {(r['case'], r['variant']): r for r in results['rows']
          if 'time_s' in r}
    extra = []
    for (case, v), r in bf.items():
        if r['dtype'] == 'bf16' and (case, v) in bf:
            fp = next((x for x in results['rows'] if x['case'] == case and
                       x['variant'] == v and x['dtype'] == 'fp32'
                       and 'time_s' in x), None)
            if fp:
                extra.append(f'- bf16 autocast vs fp32, {case}, '
                             f'{names[v]}: {fp["time_s"] / r["time_s"]:.2f}x')
    extra += onnx_ratios(results['rows'])
    if extra:
        lines += [''] + extra
    return '\n'.join(lines) + '\n'


def onnx_ratios(rows: List[Dict[str, Any]]) -> List[str]:
    """Speed of onnxruntime over the fused and the unfused eager model,
    per case (time ratios, > 1: onnxruntime is faster)."""
    timed = {(r['case'], r['dtype'], r['variant']): r['time_s']
             for r in rows if 'time_s' in r}
    lines = []
    for (case, dtype, v), t in timed.items():
        if v not in ONNX_OPSETS:
            continue
        for ref, what in (('ours', 'fused eager'),
                          ('ours_unfused', 'eager, BatchNorm not folded')):
            if (case, dtype, ref) in timed:
                lines.append(f'- onnxruntime (opset {ONNX_OPSETS[v]}) vs '
                             f'torch {what}, {case} {dtype}: '
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
    with open(os.path.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out_dir, 'table.md'), 'w') as f:
        f.write(render_table(results))
    render_plot(results, os.path.join(out_dir, 'plot.png'))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='CvT (this project) vs transformers CvtModel, '
        'side by side on identical weights.')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--out', default='work_dirs/benchmark',
                   help='folder for table.md, results.json, plot.png')
    p.add_argument('--arch', default='13', help='13, 21, w24 or JSON dict')
    p.add_argument('--cases', nargs='+', default=list(CASES),
                   choices=list(CASES))
    p.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                   choices=list(VARIANTS))
    p.add_argument('--dtypes', nargs='+', default=None,
                   choices=['fp32', 'bf16'],
                   help='default fp32 and bf16 (bf16: inference only on CPU)')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument('--repeats', type=int, default=3,
                   help='fresh-process runs per implementation and case')
    p.add_argument('--iters', type=int, default=3,
                   help='timed steps per run (after --warmup)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default: all CPUs)')
    p.add_argument('--peak-size', type=int, default=4096,
                   help='matrix size of the matmul-peak measurement')
    p.add_argument('--size', action='append', default=[],
                   metavar='CASE=BxHxW',
                   help='override a case size, e.g. infer224=2x64x64')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    sizes = {}
    for s in args.size:
        case, dims = s.split('=')
        b, h, w = (int(v) for v in dims.lower().split('x'))
        sizes[case] = dict(batch=b, h=h, w=w)
    run_benchmark(args.out, arch=args.arch, cases=args.cases,
                  variants=args.variants, dtypes=args.dtypes,
                  device=args.device, repeats=args.repeats,
                  warmup=args.warmup, iters=args.iters, threads=args.threads,
                  peak_size=args.peak_size, sizes=sizes)
    print(f'wrote {args.out}/table.md, results.json, plot.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
