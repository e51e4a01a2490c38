"""Stages ``speed_infer`` and ``speed_train``: our CvT against
``transformers``' on identical weights, on the device.

``speed_infer``: the backbone forward (ours with its BatchNorms folded) at
224 batch 256, 1024x1024 and 800x1333 batch 1 and 8, fp32 and bf16
autocast. ``speed_train``: one classifier training step (forward,
cross-entropy, backward, AdamW) at 224 batch 256, fp32 and bf16 autocast;
ours also with ``with_cp=True``. Each row: median time of the timed steps,
images/s, peak memory (``torch.cuda.max_memory_allocated`` over the
steps, weights and input included) and working memory (the peak minus
what was allocated before the first step). One model is on the device at
a time, rows case by case; an out-of-memory error becomes that row's
result, and the next row runs.
"""
from typing import Any, Dict, List

import torch
import torch.nn.functional as F

from .common import (
    arch_dict,
    autocast,
    build_ours,
    build_theirs,
    device_of,
    forward_fn,
    free,
    is_oom,
    measure,
    random_input,
    reference_state,
)

NAMES = dict(ours='ours', ours_cp='ours, with_cp', theirs='transformers')


def row_summary(row: Dict[str, Any]) -> str:
    head = (f"{row['case']} b{row['batch']} {row['dtype']} "
            f"{NAMES.get(row['variant'], row['variant'])}")
    if 'error' in row:
        return f'{head}: {row["error"]}'
    mem = (f", {row['peak_mb']:.0f} MiB" if row.get('peak_mb') is not None
           else '')
    return f"{head}: {row['time_s'] * 1e3:.1f} ms, " \
        f"{row['images_per_s']:.3g} img/s{mem}"


def _measure_row(model, variant: str, case, dtype: str, train: bool,
                 spec: Dict[str, Any], device: torch.device
                 ) -> Dict[str, Any]:
    name, batch, h, w = case
    row = dict(case=name, batch=batch, h=h, w=w, dtype=dtype,
               variant=variant, mode='train' if train else 'infer')
    x = random_input(batch, h, w).to(device)
    forward = forward_fn(model, 'theirs' if variant == 'theirs' else 'ours')
    if train:
        labels = torch.randint(0, 1000, (batch, ),
                               generator=torch.Generator().manual_seed(0)
                               ).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast(device, dtype):
                out = forward(x)
            F.cross_entropy(out.float(), labels).backward()
            opt.step()
    else:
        def step():
            with torch.no_grad(), autocast(device, dtype):
                forward(x)
    try:
        row.update(measure(step, device, spec['warmup'], spec['iters'],
                           spec.get('max_s')))
        row['images_per_s'] = batch / row['time_s']
    except RuntimeError as e:
        if not is_oom(e):
            raise
        row['error'] = 'out of memory'
    finally:
        if train:
            opt.zero_grad(set_to_none=True)
        free(device)
    return row


def _run(spec: Dict[str, Any], rec, train: bool) -> None:
    device = device_of(spec)
    arch = arch_dict(spec['arch'])
    state = reference_state(arch, classifier=train)
    models = {}
    for variant in spec['variants']:
        if variant == 'theirs':
            model = build_theirs(arch, state, classifier=train)
        else:
            model = build_ours(arch, state, classifier=train,
                               with_cp=variant == 'ours_cp')
        model.train(train)
        if not train and variant != 'theirs':
            model.fuse()
        models[variant] = model
    rows: List[Dict[str, Any]] = []
    # case by case, so that the pairs a target needs are complete even
    # when the stage is stopped at its cap; one model on the device at a
    # time, so its peak memory is its own
    for case in spec['cases']:
        for dtype in spec['dtypes']:
            for variant, model in models.items():
                model.to(device)
                try:
                    row = _measure_row(model, variant, case, dtype, train,
                                       spec, device)
                finally:
                    model.to('cpu')
                    free(device)
                rows.append(row)
                rec.set('rows', rows)
                print(row_summary(row), flush=True)
    rec.set('arch', arch)
    rec.finish('; '.join(ratio_summary(rows)) or 'no rows')


def ratio_summary(rows: List[Dict[str, Any]]) -> List[str]:
    """``'infer1024 b1 fp32: 6.1x, 4% memory'`` per case, batch and dtype
    where both ours and theirs ran."""
    out = []
    by_key: Dict[tuple, Dict[str, Dict[str, Any]]] = {}
    for r in rows:
        if 'error' in r:
            continue
        key = (r['case'], r['batch'], r['dtype'])
        by_key.setdefault(key, {})[r['variant']] = r
    for (case, batch, dtype), v in by_key.items():
        if 'ours' not in v or 'theirs' not in v:
            continue
        s = f"{case} b{batch} {dtype}: " \
            f"{v['theirs']['time_s'] / v['ours']['time_s']:.2f}x"
        ours_mb = v['ours'].get('peak_mb')
        theirs_mb = v['theirs'].get('peak_mb')
        if ours_mb and theirs_mb:
            s += f', {100 * ours_mb / theirs_mb:.1f}% memory'
        out.append(s)
    return out


def run_infer(spec: Dict[str, Any], rec) -> None:
    _run(spec, rec, train=False)


def run_train(spec: Dict[str, Any], rec) -> None:
    _run(spec, rec, train=True)
