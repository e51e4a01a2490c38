"""Stage ``correctness``: the same weights on the device and on the CPU.

* the backbone (three maps, QuickGELU, non-trivial BatchNorm statistics),
  the mmpretrain classifier of ``configs/cvt13_classify.py`` and, where
  mmseg's models import, the UperNet segmenter of
  ``configs/upernet_cvt13_512x512_160k_ade20k.py``: device fp32 against CPU
  fp32 at 224, 800x1333 and an odd size, max relative error, with TF32
  off (``strict``: the tolerance applies) and with torch's defaults
  (cuDNN convolutions in TF32);
* ``fuse()`` against eager, on the device;
* which SDPA kernel each CvT stage runs (inference in fp32, bf16 and fp16,
  a training step in fp32 and bf16), and every SDPA backend against the
  softmax written out, with our ``scale=C ** -0.5`` on the stages' shapes;
* last, ``torch.compile`` (inductor; the dry run: dynamo with the eager
  backend) against eager.

In the dry run the device is the CPU, so device-against-CPU errors are 0
by construction (plumbing only); fuse, compile, kernels and scales are
real there too.
"""
import time
from typing import Any, Dict, List

import torch

from .common import (
    DTYPES,
    arch_dict,
    attention_shapes,
    autocast,
    copy_to,
    device_of,
    measure,
    random_input,
    rel_err,
    sdpa_kernels_by_stage,
    sdpa_scale_check,
    size_label,
    strict_fp32,
    sync,
)

SEG_CONFIG = 'configs/upernet_cvt13_512x512_160k_ade20k.py'
CLS_CONFIG = 'configs/cvt13_classify.py'


def compare(cpu_model, dev_model, x: torch.Tensor, device: torch.device,
            forward=None) -> Dict[str, float]:
    """Max relative error of ``dev_model`` on the device against
    ``cpu_model`` on the CPU, strict fp32 and with torch's defaults."""
    forward = forward or (lambda m, t: m(t))
    with torch.no_grad():
        ref = forward(cpu_model, x)
        with strict_fp32():
            strict = forward(dev_model, x.to(device))
        default = forward(dev_model, x.to(device))
    return dict(strict=rel_err(strict, ref), default=rel_err(default, ref))


def build_classifier(arch, config: str, dry_run: bool):
    """The config's mmpretrain ``ImageClassifier`` (random weights, random
    BatchNorm statistics, eval mode); the dry run's tiny arch."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    from cvt_backbone.testing import randomise_bn
    cfg = Config.fromfile(config)
    if dry_run:
        cfg.model.backbone.arch = arch
        cfg.model.head.in_channels = arch['embed_dims'][-1]
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    return randomise_bn(model, seed=1).eval()


def build_segmenter(arch, config: str, dry_run: bool):
    """The UperNet config's ``EncoderDecoder`` without its pretrained
    weights, BatchNorm for SyncBN (one process), random statistics; the dry
    run shrinks backbone and heads."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from cvt_backbone.testing import randomise_bn
    cfg = Config.fromfile(config)
    m = cfg.model
    m.backbone.init_cfg = None
    m.backbone.norm_cfg = dict(type='BN')
    for head in ('decode_head', 'auxiliary_head'):
        m[head].norm_cfg = dict(type='BN')
    if dry_run:
        m.backbone.arch = arch
        m.decode_head.in_channels = list(arch['embed_dims'])
        m.decode_head.channels = 16
        m.auxiliary_head.in_channels = arch['embed_dims'][-1]
        m.auxiliary_head.channels = 16
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(m)
    model.init_weights()
    return randomise_bn(model, seed=2).eval()


def tensor_mode(model, x):
    return model(x, mode='tensor')


def run(spec: Dict[str, Any], rec) -> None:
    from cvt_backbone.models import CvT
    from cvt_backbone.testing import randomise_bn
    device = device_of(spec)
    dry = spec['dry_run']
    tol = spec['tolerance']
    arch = arch_dict(spec['arch'])
    worst: Dict[str, float] = {}

    # -- backbone, device against CPU
    torch.manual_seed(0)
    backbone = randomise_bn(CvT(arch, out_indices=(0, 1, 2))).eval()
    dev = copy_to(backbone, device)
    for size in spec['sizes']:
        e = compare(backbone, dev, random_input(*size), device)
        rec.add('backbone', dict(size=size_label(size), **e))
        worst['backbone'] = max(worst.get('backbone', 0.), e['strict'])

    # -- mmpretrain classifier
    try:
        cls_cpu = build_classifier(arch, CLS_CONFIG, dry)
        cls_dev = copy_to(cls_cpu, device)
        for size in spec['classifier_sizes']:
            e = compare(cls_cpu, cls_dev, random_input(*size), device,
                        tensor_mode)
            rec.add('classifier', dict(size=size_label(size), **e))
            worst['classifier'] = max(worst.get('classifier', 0.),
                                      e['strict'])
        del cls_cpu, cls_dev
    except Exception as e:  # the other checks still run
        rec.skip('classifier', f'failed: {type(e).__name__}: {str(e)[:300]}')

    # -- mmseg segmenter, where mmseg's models import
    try:
        import mmseg.models  # noqa: F401 (needs mmcv's compiled ops)
    except Exception as e:
        rec.skip('segmenter', 'mmseg.models does not import here '
                 f'({type(e).__name__}: {str(e)[:160]}); it needs mmcv '
                 "with its compiled ops (mmcv._ext), which the bundle's "
                 'mmcv-lite lacks')
    else:
        seg_cpu = build_segmenter(arch, SEG_CONFIG, dry)
        seg_dev = copy_to(seg_cpu, device)
        size = spec['segmenter_size']
        e = compare(seg_cpu, seg_dev, random_input(*size), device,
                    tensor_mode)
        rec.add('segmenter', dict(size=size_label(size), **e))
        worst['segmenter'] = e['strict']
        del seg_cpu, seg_dev

    # -- fuse() against eager, on the device
    x = random_input(*spec['compile_size']).to(device)
    with torch.no_grad():
        eager = dev(x)
        fused = copy_to(backbone, device).fuse()
        rec.set('fuse', dict(size=size_label(spec['compile_size']),
                             rel_err=rel_err(fused(x), eager)))

    # -- SDPA kernels per CvT stage
    kernels = []
    for size in spec['kernel_sizes']:
        xs = random_input(*size).to(device)
        for dtype in DTYPES:
            def infer():
                with torch.no_grad(), autocast(device, dtype):
                    dev(xs)
            kernels.append(dict(size=size_label(size), dtype=dtype,
                                mode='inference',
                                kernels=sdpa_kernels_by_stage(dev, infer)))
            rec.set('sdpa_kernels', kernels)
    train_model = copy_to(backbone, device).train()
    xs = random_input(*spec['kernel_sizes'][0]).to(device)
    for dtype in ('fp32', 'bf16'):
        def step():
            with autocast(device, dtype):
                out = train_model(xs)
            sum(o.float().square().mean() for o in out).backward()
        kernels.append(dict(size=size_label(spec['kernel_sizes'][0]),
                            dtype=dtype, mode='training',
                            kernels=sdpa_kernels_by_stage(train_model, step)))
        rec.set('sdpa_kernels', kernels)

    # -- every backend with our scale= on the stages' shapes
    b, h, w = spec['kernel_sizes'][0]
    scale_rows = sdpa_scale_check(attention_shapes(arch, h, w), device,
                                  batch=b)
    rec.set('sdpa_scale', scale_rows)

    checks = {f'{k}: device vs CPU fp32 <= {tol:g} relative': v <= tol
              for k, v in worst.items()}
    checks[f'fuse() vs eager <= {tol:g}'] = \
        rec.data['figures']['fuse']['rel_err'] <= tol
    checks['SDPA with scale= finite and within 1e-2 in every backend'] = all(
        r.get('finite', True) and r.get('rel_err', 0.) <= 1e-2
        for r in scale_rows)
    rec.set('checks', checks)

    # -- torch.compile against eager, last: its first call compiles (about a
    # minute with inductor on a GPU), and a stop at the cap keeps the rest
    compiled = torch.compile(copy_to(backbone, device),
                             backend=spec['compile_backend'])
    t = time.perf_counter()
    with torch.no_grad():
        out = compiled(x)
    sync(device)
    compile_s = time.perf_counter() - t
    compile_err = rel_err(out, eager)
    rec.set('compile', dict(size=size_label(spec['compile_size']),
                            backend=spec['compile_backend'],
                            rel_err=compile_err, first_call_s=compile_s))
    with torch.no_grad():  # then the compiled and the eager forward's time
        times = {name: measure(lambda m=m: m(x), device, 2, 5)['time_s']
                 for name, m in (('compiled', compiled), ('eager', dev))}
    rec.set('compile', dict(rec.data['figures']['compile'],
                            compiled_s=times['compiled'],
                            eager_s=times['eager']))
    checks[f'torch.compile ({spec["compile_backend"]}) vs eager <= '
           f'{tol:g}'] = compile_err <= tol
    rec.set('checks', checks)

    summary = ', '.join(f'{k} {worst[k]:.1e}' for k in worst)
    summary += (f'; fuse {rec.data["figures"]["fuse"]["rel_err"]:.1e}, '
                f'compile {compile_err:.1e} ({compile_s:.0f} s to compile); '
                'kernels ' + kernel_summary(kernels))
    if dry:
        summary = 'dry run (device = CPU, so device-vs-CPU is 0): ' + summary
    if rec.data['skipped']:
        summary += '; skipped: ' + ', '.join(rec.data['skipped'])
    rec.finish(summary)


def kernel_summary(kernels: List[Dict[str, Any]]) -> str:
    """``'fp32: flash_cpu; bf16: flash ...'``: the kernels inference ran in
    each dtype at the first size."""
    first = kernels[0]['size'] if kernels else None
    parts = []
    for k in kernels:
        if k['size'] != first or k['mode'] != 'inference':
            continue
        names = sorted({n for c in k['kernels'].values() for n in c})
        parts.append(f"{k['dtype']} {'/'.join(names) or 'none'}")
    return ', '.join(parts)
