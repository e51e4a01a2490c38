"""Stage ``amp``: mixed-precision training of the CvT classifier on a
generated set, the same steps in fp32, in fp16 autocast with the dynamic
loss scaler, and in bf16 autocast.

Same initial weights, same batches in the same order (the synthetic shapes
set of :mod:`cvt_backbone.testing`, 6 classes, random flips), AdamW with a
linear warm-up and cosine decay, gradient clipping after unscaling,
label-smoothed cross-entropy on fp32 logits. Per run: every step's loss,
the non-finite losses, the steps the scaler skipped (its scale fell), the
final scale, the mean loss of the last steps and the largest activation
each CvT stage produced (sampled), against fp16's 65504.

Passes when no loss is non-finite and each mixed-precision run's final loss
lies within the range of the fp32 run's losses over the same last steps.
"""
import math
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import arch_dict, autocast, device_of, sync

FP16_MAX = 65504.
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def make_set(images: int, size: int, seed: int = 0
             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``images`` synthetic shape images ``[N, 3, S, S]`` (normalised RGB)
    and their labels, classes in turn."""
    from cvt_backbone.testing import CLASSES
    from cvt_backbone.testing.synthetic import classification_image
    rng = np.random.RandomState(seed)
    labels = [i % len(CLASSES) for i in range(images)]
    imgs = np.stack([classification_image(rng, y, size)[..., ::-1]
                     for y in labels])
    x = torch.from_numpy(imgs.copy()).permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD, torch.tensor(labels)


def lr_at(step: int, spec: Dict[str, Any]) -> float:
    if step < spec['warmup']:
        return spec['lr'] * (step + 1) / spec['warmup']
    t = (step - spec['warmup']) / max(1, spec['steps'] - spec['warmup'])
    return spec['lr'] * 0.5 * (1 + math.cos(math.pi * t))


def train(arch, data: torch.Tensor, labels: torch.Tensor, dtype: str,
          spec: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
    """One run of ``spec['steps']`` steps in ``dtype`` (``fp16``: with the
    loss scaler)."""
    from cvt_backbone.models import CvT
    torch.manual_seed(0)
    backbone = CvT(arch, out_type='cls_token')
    model = nn.ModuleDict(dict(
        backbone=backbone,
        head=nn.Linear(arch['embed_dims'][-1], int(labels.max()) + 1)))
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec['lr'],
                            weight_decay=spec['weight_decay'])
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == 'fp16')
    data, labels = data.to(device), labels.to(device)

    peaks = [0.] * len(backbone.stages)
    sample = [False]

    def hook(i):
        def fn(mod, args, out):
            if sample[0]:  # out: tokens (None in a class-token-only last
                # block), size, class token
                for t in (out[0], out[2]):
                    if t is not None:
                        peaks[i] = max(peaks[i], float(t.detach().abs().max()))
        return fn
    handles = [s.register_forward_hook(hook(i))
               for i, s in enumerate(backbone.stages)]
    g = torch.Generator().manual_seed(1)
    losses: List[float] = []
    nonfinite = skipped = 0
    t0 = time.perf_counter()
    for step in range(spec['steps']):
        idx = torch.randint(0, len(data), (spec['batch'], ), generator=g)
        flip = torch.rand(spec['batch'], generator=g) < 0.5
        idx, flip = idx.to(device), flip.to(device)
        x = data[idx]
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        for group in opt.param_groups:
            group['lr'] = lr_at(step, spec)
        sample[0] = step % spec['activation_every'] == 0
        with autocast(device, dtype):
            logits = model['head'](model['backbone'](x)[0])
        loss = F.cross_entropy(logits.float(), labels[idx],
                               label_smoothing=0.1)
        value = loss.detach().item()
        losses.append(value)
        if not math.isfinite(value):
            nonfinite += 1
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, spec['clip'])
        before = scaler.get_scale() if scaler.is_enabled() else None
        scaler.step(opt)
        scaler.update()
        if before is not None and scaler.get_scale() < before:
            skipped += 1
        opt.zero_grad(set_to_none=True)
    sync(device)
    for h in handles:
        h.remove()
    tail = losses[-spec['tail']:]
    finite_tail = [v for v in tail if math.isfinite(v)]
    return dict(
        dtype=dtype, steps=len(losses), nonfinite=nonfinite,
        skipped_steps=skipped,
        final_scale=scaler.get_scale() if scaler.is_enabled() else None,
        final_loss=(sum(finite_tail) / len(finite_tail)
                    if finite_tail else None),
        tail_min=min(finite_tail) if finite_tail else None,
        tail_max=max(finite_tail) if finite_tail else None,
        first_loss=losses[0], max_activation=peaks,
        seconds=time.perf_counter() - t0,
        losses=[round(v, 5) if math.isfinite(v) else str(v)
                for v in losses])


def judge(runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Per mixed-precision run: no non-finite loss, final loss within the
    fp32 run's range over the same last steps."""
    ref = runs.get('fp32')
    verdict = {}
    for dtype, r in runs.items():
        if dtype == 'fp32':
            continue
        within = (ref is not None and r['final_loss'] is not None
                  and ref['tail_min'] is not None
                  and ref['tail_min'] <= r['final_loss'] <= ref['tail_max'])
        verdict[dtype] = dict(finite=r['nonfinite'] == 0,
                              within_fp32_range=bool(within))
    return verdict


def run(spec: Dict[str, Any], rec) -> None:
    device = device_of(spec)
    arch = arch_dict(spec['arch'])
    data, labels = make_set(spec['images'], spec['size'])
    runs: Dict[str, Dict[str, Any]] = {}
    for dtype in ('fp32', 'fp16', 'bf16'):
        runs[dtype] = train(arch, data, labels, dtype, spec, device)
        rec.set('runs', runs)
    verdict = judge(runs)
    rec.set('verdict', verdict)
    peak16 = max(runs['fp16']['max_activation'])
    rec.set('fp16_headroom', FP16_MAX / peak16 if peak16 else None)
    parts = []
    for dtype, r in runs.items():
        s = (f'{dtype} loss {r["first_loss"]:.3f}->{_fmt(r["final_loss"])}, '
             f'{r["nonfinite"]} non-finite')
        if dtype == 'fp16':
            s += f', {r["skipped_steps"]} skipped, scale {r["final_scale"]:g}'
        parts.append(s)
    ref = runs['fp32']
    summary = (f'{spec["steps"]} steps each: ' + '; '.join(parts)
               + f'; fp32 range [{_fmt(ref["tail_min"])}, '
               f'{_fmt(ref["tail_max"])}]; largest activation in fp16 '
               f'{peak16:.0f} (fp16 max 65504)')
    checks = {}
    for dtype, v in verdict.items():
        checks[f'{dtype}: no non-finite loss'] = v['finite']
        checks[f'{dtype}: final loss within the fp32 range'] = \
            v['within_fp32_range']
    rec.set('checks', checks)
    rec.finish(summary)


def _fmt(v) -> str:
    return 'n/a' if v is None else f'{v:.3f}'
