"""The benchmark run: :func:`run_benchmark` sets up (reference weights, the
JPEG folder, the machine's matmul peak), measures each case through
:func:`.runner.alternate` and writes the report (:mod:`.report`). One
function per kind of case turns the runs into result rows: model cases
(:func:`model_rows`: one fresh process per variant and repeat), the
pipeline case (:func:`pipeline_rows`: one process per repeat for all
pipelines) and the train loop (:func:`trainloop_rows`: one
``tools/train.py`` run per loader-worker count and repeat)."""
import datetime
import os
import os.path as osp
import platform
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence

from .cases import (
    CASES,
    DEFAULT_VARIANTS,
    MODEL_MODES,
    NUM_CLASSES,
    PIPELINES,
    applies,
    parse_arch,
)
from .models import save_reference_weights
from .pipeline import train_jpegs
from .report import pipeline_summary, row_summary, write_outputs
from .runner import alternate, each, spawn
from .trainloop import run_trainloop

Row = Dict[str, Any]
Log = Callable[[str], None]


def useful_macs(arch: Dict[str, List[int]], h: int, w: int) -> int:
    """Backbone multiply-adds for one image (see :mod:`cvt_backbone.utils.
    flops`)."""
    import torch

    from cvt_backbone.apis import backbone_config, build_model
    from cvt_backbone.utils import count_macs
    model = build_model(backbone_config(arch, out_indices=(2, )))
    return count_macs(model, torch.zeros(1, 3, h, w))['total']


def machine_info(device: str) -> str:
    """The CPU model and thread count, or the GPU's name."""
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


def model_rows(name: str, case: Dict[str, Any], arch: Dict[str, List[int]],
               dtypes: Sequence[str], variants: Sequence[str], device: str,
               repeats: int, extra: Dict[str, Any], timeout: float,
               log: Log) -> List[Row]:
    """One row per dtype and variant that applies; ``extra``: the worker
    spec's ``warmup``, ``iters``, ``threads``, ``profile``, ``weights``."""
    macs = useful_macs(arch, case['h'], case['w'])
    rows: List[Row] = []
    for dtype in dtypes:
        if dtype == 'bf16' and device == 'cpu' and case['mode'] == 'train':
            continue
        spec = dict(case, arch=arch, dtype=dtype, device=device, **extra)

        def measure(v: str, r: int) -> Dict[str, Any]:
            # a profile of the first run is enough
            return spawn(dict(spec, variant=v,
                              profile=extra.get('profile') and r == 0),
                         timeout)
        runs = alternate([v for v in variants
                          if applies(v, case['mode'], dtype)], repeats,
                         each(measure), label=lambda v: f'{name} {dtype} {v}',
                         log=log)
        new = []
        for v, rs in runs.items():
            row = dict(case=name, dtype=dtype, variant=v, **case,
                       macs_per_image=macs, runs=rs.results)
            if rs.ok:
                t = rs.median('time')
                row.update(time_s=t, images_per_s=case['batch'] / t,
                           mem_mb=rs.median('mem_mb'),
                           peak_rss_mb=rs.median('peak_rss_mb'))
                if case['mode'] == 'infer':
                    row['useful_flops'] = 2 * macs * case['batch'] / t
                profiles = [x['profile'] for x in rs.ok if 'profile' in x]
                if profiles:
                    row['profile'] = profiles[0]
            new.append(row)
        add_ratios(new)
        for row in new:
            log(row_summary(row))
        rows += new
    return rows


def add_ratios(rows: List[Row]) -> None:
    """Speed-up and memory ratio of each row against ``theirs`` in the same
    case and dtype."""
    ref = {(r['case'], r['dtype']): r for r in rows
           if r['variant'] == 'theirs' and 'time_s' in r}
    for r in rows:
        t = ref.get((r['case'], r['dtype']))
        if t is None or 'time_s' not in r:
            continue
        r['speedup'] = t['time_s'] / r['time_s']
        r['mem_ratio'] = r['mem_mb'] / t['mem_mb'] if t['mem_mb'] > 0 else None


def pipeline_rows(name: str, case: Dict[str, Any], data: str, repeats: int,
                  images: int, passes: int, pipelines: Sequence[str],
                  timeout: float, log: Log) -> List[Row]:
    """One row per pipeline; each repeat is one process timing all of them
    (in the repeat's order), image by image."""
    def measure(order: List[str], r: int) -> Dict[str, Any]:
        res = spawn(dict(case, variant='pipeline', data=data, images=images,
                         passes=passes, pipelines=order), timeout)
        if 'error' in res:
            return {n: res for n in order}
        return {n: dict(time=res['time'][n], steps=res['steps'][n],
                        images=res['images']) for n in order}
    runs = alternate(list(pipelines), repeats, measure,
                     label=lambda _: name, log=log)
    rows = []
    for n, rs in runs.items():
        row = dict(case=name, variant=n, dtype='uint8', **case,
                   runs=[x.get('time') for x in rs.results])
        if rs.ok:
            t = rs.median('time')
            steps = [(step, rs.median(lambda x, k=k: x['steps'][k][1]))
                     for k, (step, _) in enumerate(rs.ok[0]['steps'])]
            row.update(time_s=t, images_per_s=1 / t, steps=steps,
                       images=rs.ok[0]['images'])
        rows.append(row)
    decode = next((r for r in rows if r['variant'] == 'decode'
                   and 'time_s' in r), None)
    for row in rows:
        if decode and 'time_s' in row:
            row['of_decode'] = decode['time_s'] / row['time_s']
        log(pipeline_summary(row))
    return rows


def trainloop_rows(name: str, case: Dict[str, Any], data: str, repeats: int,
                   loader_workers: Sequence[int], tmp: str, timeout: float,
                   log: Log) -> List[Row]:
    """One row per loader-worker count (a ``tools/train.py`` run each)."""
    runs = alternate(
        list(loader_workers), repeats,
        each(lambda n, r: run_trainloop(data, n, case['batch'], tmp,
                                        timeout=timeout)),
        label=lambda n: f'{name} {n} workers', log=log)
    rows = []
    for n, rs in runs.items():
        row = dict(case=name, variant=f'{n} workers', workers=n,
                   dtype='uint8', **case, runs=rs.results)
        if rs.ok:
            t = rs.median('time')
            row.update(time_s=t, images_per_s=case['batch'] / t,
                       data_time_s=rs.median('data_time'))
        rows.append(row)
        log(pipeline_summary(row))
    return rows


def _results_header(arch: Dict[str, List[int]], device: str, repeats: int,
                    iters: int, warmup: int) -> Dict[str, Any]:
    """What ``results.json`` says of the run before its rows."""
    import torch
    return dict(
        arch=arch, device=device, machine=machine_info(device),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        torch=torch.__version__, repeats=repeats, iters=iters,
        warmup=warmup, memory=('peak RSS minus RSS after model build (MiB)'
                               if device == 'cpu' else
                               'max_memory_allocated minus after build (MiB)'),
        rows=[])


def jpeg_folder(data: Optional[str] = None) -> str:
    """The JPEG folder of the pipeline and trainloop cases: a given folder
    with ``train/<class>/*.JPEG`` is used as it is (real photos too);
    otherwise the generated set is written there (default
    ``work_dirs/benchmark_jpegs``)."""
    from cvt_backbone.testing import JpegSpec, generate_jpeg_classification
    data = data or osp.join('work_dirs', 'benchmark_jpegs')
    if not train_jpegs(data):
        generate_jpeg_classification(data, JpegSpec(train_per_class=100,
                                                    val_per_class=1))
    return data


def run_benchmark(out_dir: str, arch: Any = '13',
                  cases: Sequence[str] = tuple(CASES),
                  variants: Sequence[str] = DEFAULT_VARIANTS,
                  dtypes: Optional[Sequence[str]] = None,
                  device: str = 'cpu', repeats: int = 3, warmup: int = 1,
                  iters: int = 3, threads: Optional[int] = None,
                  peak_size: int = 4096,
                  sizes: Optional[Dict[str, Any]] = None,
                  data: Optional[str] = None, pipeline_images: int = 120,
                  pipeline_passes: int = 2,
                  pipelines: Sequence[str] = tuple(PIPELINES),
                  loader_workers: Sequence[int] = (1, 2),
                  profile: bool = False,
                  timeout: float = 1800., log: Log = print) -> Dict[str, Any]:
    """Run the benchmark and write ``table.md``, ``results.json`` and
    ``plot.png`` to ``out_dir``. ``sizes`` overrides a case's ``batch``/``h``/
    ``w`` (``{'infer224': {'batch': 2}}``). ``dtypes`` defaults to fp32 and
    bf16 (on CPU the backbone ``train`` cases run fp32 only). ``data``: the
    folder of generated JPEGs for ``pipeline``/``trainloop`` (made there if
    missing). ``profile``: also record the ops taking the most time in one
    step of each model run. Returns the results."""
    arch_d = parse_arch(arch)
    dtypes = list(dtypes or ('fp32', 'bf16'))
    os.makedirs(out_dir, exist_ok=True)
    results = _results_header(arch_d, device, repeats, iters, warmup)
    modes = {CASES[c]['mode'] for c in cases}
    if modes & {'pipeline', 'trainloop'}:
        results['data'] = data = jpeg_folder(data)
    with tempfile.TemporaryDirectory() as tmp:
        weights = dict(backbone=osp.join(tmp, 'cvt_hf.pth'),
                       classifier=osp.join(tmp, 'cvt_hf_cls.pth'))
        if modes & {'infer', 'train'}:
            save_reference_weights(arch_d, weights['backbone'])
        if 'train_cls' in modes:
            save_reference_weights(arch_d, weights['classifier'],
                                   num_labels=NUM_CLASSES)
        if modes & set(MODEL_MODES):
            peak = spawn(dict(variant='peak', size=peak_size, device=device,
                              threads=threads, iters=3), timeout)
            results['matmul_peak_flops'] = peak.get('flops')
            if peak.get('flops'):
                log(f'fp32 matmul peak ({peak_size}^2): '
                    f'{peak["flops"] / 1e9:.1f} GFLOP/s')
        for name in cases:
            case = dict(CASES[name], **(sizes or {}).get(name, {}))
            if case['mode'] == 'pipeline':
                rows = pipeline_rows(name, case, data, repeats,
                                     pipeline_images, pipeline_passes,
                                     pipelines, timeout, log)
            elif case['mode'] == 'trainloop':
                rows = trainloop_rows(name, case, data, repeats,
                                      loader_workers, tmp, timeout, log)
            else:
                part = ('classifier' if case['mode'] == 'train_cls'
                        else 'backbone')
                rows = model_rows(
                    name, case, arch_d, dtypes, variants, device, repeats,
                    dict(warmup=warmup, iters=iters, threads=threads,
                         profile=profile, weights=weights[part]), timeout,
                    log)
            results['rows'] += rows
    write_outputs(results, out_dir)
    return results
