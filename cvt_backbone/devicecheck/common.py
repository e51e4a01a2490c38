"""What the device-check stages share: the device, our CvT and
``transformers``' on identical weights, step timing with peak memory, the
relative error of two outputs and which SDPA kernel each CvT stage runs.

The models are built as :mod:`tools/analysis_tools/benchmark.py` builds
them for its CPU tables (a randomly initialised ``transformers`` CvT with
non-trivial BatchNorm statistics, converted by our converter, GELU on both
sides), so GPU and CPU figures compare like for like. It is written here
again, small, rather than imported from that script, which is a command
line, not a module.
"""
import contextlib
import copy
import os
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16,
          'fp16': torch.float16}


# -- device -----------------------------------------------------------------
def device_of(spec: Dict[str, Any]) -> torch.device:
    """The device a stage measures on: ``cuda`` unless the plan says
    ``cpu`` (the dry run)."""
    return torch.device(spec.get('device', 'cuda'))


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device: torch.device, dtype: str):
    """Autocast to ``dtype`` (``'fp32'``: disabled) on ``device``."""
    return torch.autocast(device.type, dtype=DTYPES[dtype],
                          enabled=dtype != 'fp32')


def random_input(batch: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A normalised-image-like ``[B, 3, H, W]`` batch on the CPU."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, h, w, generator=g)


def rel_err(got, want) -> float:
    """Max abs difference over the max abs reference value, over a tensor
    or matching tuples of tensors (compared in fp64 on the CPU)."""
    if isinstance(want, (tuple, list)):
        return max(rel_err(g, w) for g, w in zip(got, want))
    g, w = got.detach().double().cpu(), want.detach().double().cpu()
    return float((g - w).abs().max() / w.abs().max().clamp_min(1e-30))


# -- models on identical weights -------------------------------------------
def arch_dict(arch: Any) -> Dict[str, List[int]]:
    """``'13'`` or a dict -> ``embed_dims``, ``depths``, ``num_heads``."""
    from cvt_backbone.models import CvT
    full = CvT.resolve_arch(arch)
    return {k: list(full[k]) for k in ('embed_dims', 'depths', 'num_heads')}


@contextlib.contextmanager
def strict_fp32():
    """fp32 matmuls and convolutions without TF32 (cuDNN's convolutions use
    TF32 by default on Ampere and later)."""
    old = (torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = old


def reference_state(arch: Dict[str, List[int]], classifier: bool,
                    seed: int = 0) -> Dict[str, torch.Tensor]:
    """The state dict of a randomly initialised ``transformers`` CvT
    (``CvtModel``, or ``CvtForImageClassification`` with 1000 classes)."""
    from cvt_backbone.testing import make_hf_cvt
    return make_hf_cvt(arch, num_labels=1000 if classifier else None,
                       seed=seed).state_dict()


def _saved(state: Dict[str, torch.Tensor]) -> str:
    import tempfile
    fd, path = tempfile.mkstemp(suffix='.pth', prefix='cvt_reference_')
    os.close(fd)
    torch.save(state, path)
    return path


def build_theirs(arch: Dict[str, List[int]], state: Dict[str, torch.Tensor],
                 classifier: bool) -> nn.Module:
    """The benchmark's ``transformers`` model with the weights of
    ``state``."""
    from cvt_backbone.benchmark.models import build_theirs as theirs
    path = _saved(state)
    try:
        return theirs(arch, path, classifier)
    finally:
        os.remove(path)


def build_ours(arch: Dict[str, List[int]], state: Dict[str, torch.Tensor],
               classifier: bool, with_cp: bool = False) -> nn.Module:
    """The benchmark's model of ours (the backbone's last stage map, or
    mmpretrain's ``ImageClassifier``) built by the one builder with the
    weights of ``state`` (converted by the checkpoint package); GELU like
    theirs."""
    from cvt_backbone.benchmark.models import build_ours as ours
    path = _saved(state)
    try:
        return ours(arch, path, classifier, with_cp=with_cp)
    finally:
        os.remove(path)


def forward_fn(model: nn.Module, variant: str) -> Callable:
    """``x`` -> the tensor a step's loss is taken on (the logits of a
    classifier, the last map or hidden state of a backbone)."""
    if variant == 'theirs':
        if hasattr(model, 'classifier'):
            return lambda x: model(x).logits
        return lambda x: model(x).last_hidden_state
    if isinstance(model, nn.ModuleDict):
        return lambda x: model['head'](model['backbone'](x)[0])
    if hasattr(model, 'head'):  # mmpretrain's ImageClassifier
        return lambda x: model(x, mode='tensor')
    return lambda x: model(x)[-1]


# -- timing and memory ------------------------------------------------------
def measure(step: Callable[[], None], device: torch.device, warmup: int,
            iters: int, max_s: Optional[float] = None) -> Dict[str, Any]:
    """Run ``step`` ``warmup`` times, then time ``iters`` runs (each
    synchronised); fewer timed runs when the first would make them last
    longer than ``max_s``. On CUDA also the peak memory
    (``torch.cuda.max_memory_allocated`` since the call, MiB) and the
    working memory (that peak minus what was allocated at the call: the
    weights and the input)."""
    cuda = device.type == 'cuda'
    if cuda:
        sync(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(device)
    warm_s = time.perf_counter() - t0
    if max_s and warmup:
        iters = max(1, min(iters, int(max_s / max(warm_s / warmup, 1e-9))))
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    out: Dict[str, Any] = dict(time_s=statistics.median(times),
                               times=[round(t, 6) for t in times],
                               warmup_s=round(warm_s, 3))
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
        out.update(peak_mb=peak / 2**20, working_mb=(peak - base) / 2**20)
    else:
        out.update(peak_mb=None, working_mb=None)
    return out


def is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or \
        'out of memory' in str(err).lower()


def free(device: torch.device) -> None:
    import gc
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


# -- SDPA kernels -----------------------------------------------------------
# aten ops of F.scaled_dot_product_attention's backends (longest first, so
# a backward or CPU op is not taken for its forward/CUDA prefix)
SDPA_OPS = (
    ('_scaled_dot_product_flash_attention_for_cpu_backward', 'flash_cpu'),
    ('_scaled_dot_product_flash_attention_for_cpu', 'flash_cpu'),
    ('_scaled_dot_product_flash_attention_backward', 'flash'),
    ('_scaled_dot_product_flash_attention', 'flash'),
    ('_scaled_dot_product_efficient_attention_backward', 'efficient'),
    ('_scaled_dot_product_efficient_attention', 'efficient'),
    ('_efficient_attention_backward', 'efficient'),
    ('_scaled_dot_product_cudnn_attention_backward', 'cudnn'),
    ('_scaled_dot_product_cudnn_attention', 'cudnn'),
    ('_scaled_dot_product_fused_attention_overrideable_backward',
     'overrideable'),
    ('_scaled_dot_product_fused_attention_overrideable', 'overrideable'),
    ('_scaled_dot_product_attention_math', 'math'),
)


def sdpa_kernel_name(op: str) -> Optional[str]:
    """``'aten::_scaled_dot_product_flash_attention'`` -> ``'flash'``;
    ``None`` for any other op."""
    name = op.split('::')[-1]
    for prefix, kernel in SDPA_OPS:
        if name == prefix:
            return kernel
    return None


def sdpa_kernels_by_stage(backbone: nn.Module, run: Callable[[], None]
                          ) -> Dict[str, Dict[str, int]]:
    """Which SDPA kernels ``run()`` calls in each CvT stage of
    ``backbone``: ``{'stage0': {'flash': 2}, ..., 'backward': {...}}``
    (backward kernels run outside the stages' forward, so they are counted
    together). Read from the profiler's op tree, with each stage's forward
    marked by a ``record_function`` from hooks."""
    from torch.profiler import ProfilerActivity, profile, record_function
    handles, open_marks = [], {}
    for i, stage in enumerate(backbone.stages):
        def pre(mod, args, i=i):
            rf = record_function(f'cvt_stage{i}')
            rf.__enter__()
            open_marks[i] = rf

        def post(mod, args, out, i=i):
            open_marks.pop(i).__exit__(None, None, None)
        handles += [stage.register_forward_pre_hook(pre),
                    stage.register_forward_hook(post)]
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
    finally:
        for h in handles:
            h.remove()
    found: Dict[str, Dict[str, int]] = {}
    for ev in prof.events():
        kernel = sdpa_kernel_name(ev.name)
        # count each backend call once (a backward op may call another)
        if kernel is None or (ev.cpu_parent is not None and sdpa_kernel_name(
                ev.cpu_parent.name) is not None):
            continue
        where = 'backward' if 'backward' in ev.name else 'outside a stage'
        parent = ev.cpu_parent
        while parent is not None:
            if parent.name.startswith('cvt_stage'):
                where = 'stage' + parent.name[len('cvt_stage'):]
                break
            parent = parent.cpu_parent
        counts = found.setdefault(where, {})
        counts[kernel] = counts.get(kernel, 0) + 1
    return found


def attention_shapes(arch: Dict[str, List[int]], h: int, w: int
                     ) -> List[Dict[str, int]]:
    """Per CvT stage: heads, query length, key length, head width and the
    stage width ``C`` whose ``C ** -0.5`` the checkpoints scale by, for an
    ``h x w`` input (q at the stage's size, k/v at the stride-2 size, the
    class token in the last stage)."""
    from cvt_backbone.models.backbones.cvt import conv_out_size
    shapes = []
    for i, (k, s, p) in enumerate(((7, 4, 2), (3, 2, 1), (3, 2, 1))):
        h, w = conv_out_size(h, k, s, p), conv_out_size(w, k, s, p)
        c, heads = arch['embed_dims'][i], arch['num_heads'][i]
        cls = 1 if i == 2 else 0
        kv = conv_out_size(h, 3, 2, 1) * conv_out_size(w, 3, 2, 1) + cls
        shapes.append(dict(stage=i, heads=heads, q=h * w, kv=kv,
                           head_dim=c // heads, dims=c))
    return shapes


def sdpa_scale_check(shapes: Sequence[Dict[str, int]], device: torch.device,
                     dtypes: Sequence[str] = ('fp32', 'bf16', 'fp16'),
                     magnitudes: Sequence[float] = (1., 30.),
                     batch: int = 2) -> List[Dict[str, Any]]:
    """Each SDPA backend, forced with ``sdpa_kernel``, on the stages'
    shapes with our ``scale=C ** -0.5``, against the softmax written out in
    fp64 on the same (rounded) inputs: ``{stage, backend, dtype, magnitude,
    rel_err, finite}``, or ``error`` where the backend refuses the input.
    ``magnitude`` scales q and k: with large activations an fp16 overflow
    of q.k before the scaling would show here as inf/NaN."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = [('flash', SDPBackend.FLASH_ATTENTION),
                ('efficient', SDPBackend.EFFICIENT_ATTENTION),
                ('cudnn', SDPBackend.CUDNN_ATTENTION),
                ('math', SDPBackend.MATH)]
    if device.type != 'cuda':  # the CPU has flash (its own) and math only
        backends = [b for b in backends if b[0] in ('flash', 'math')]
    rows = []
    g = torch.Generator().manual_seed(0)
    for sh in shapes:
        q0 = torch.randn(batch, sh['heads'], sh['q'], sh['head_dim'],
                         generator=g, dtype=torch.float64)
        k0 = torch.randn(batch, sh['heads'], sh['kv'], sh['head_dim'],
                         generator=g, dtype=torch.float64)
        v0 = torch.randn_like(k0)
        scale = sh['dims'] ** -0.5
        for mag in magnitudes:
            for dtype in dtypes:
                q, k, v = (t.to(device, DTYPES[dtype])
                           for t in (mag * q0, mag * k0, v0))
                # the reference sees the same rounded inputs: what is left
                # is the kernel's own error
                qd, kd, vd = (t.double().cpu() for t in (q, k, v))
                ref = torch.softmax(qd @ kd.transpose(-1, -2) * scale,
                                    -1) @ vd
                for name, backend in backends:
                    row = dict(stage=sh['stage'], backend=name, dtype=dtype,
                               magnitude=mag)
                    try:
                        with sdpa_kernel([backend]):
                            out = F.scaled_dot_product_attention(
                                q, k, v, scale=scale)
                        row['rel_err'] = rel_err(out, ref)
                        row['finite'] = bool(torch.isfinite(out).all())
                    except Exception as e:  # the backend refuses it
                        msg = str(e).strip().splitlines() or [type(e).__name__]
                        row['error'] = msg[0][:160]
                    rows.append(row)
    return rows


def copy_to(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``model`` on ``device``."""
    return copy.deepcopy(model).to(device)


def size_label(size: Sequence[int]) -> str:
    """``[2, 224, 224]`` -> ``'2x224x224'``."""
    return 'x'.join(str(v) for v in size)
