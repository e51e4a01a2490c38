"""The model timing worker: one measurement of one variant
(:data:`~.cases.VARIANTS`) in one model case, run by :mod:`.worker` in a
fresh process so that its peak memory is its own.

Both sides run identical weights: a randomly initialised ``transformers``
``CvtModel``/``CvtForImageClassification`` is saved once per run
(:func:`save_reference_weights`); theirs loads it directly, ours is built
by :func:`cvt_backbone.apis.build_model` from
:func:`~cvt_backbone.apis.backbone_config` /
:func:`~cvt_backbone.apis.classifier_config` (``act_cfg=GELU``, so the
numerics are the same) with that file as its checkpoint (the checkpoint
loader converts the ``transformers`` layout). A training step is forward,
loss, backward and the AdamW step.

Memory: on CPU the worker reports the process's peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS right after the model was
built; ``mem_mb`` is *peak minus that baseline* (the working memory of the
measured step: activations, attention buffers, gradients and optimizer
state). On CUDA ``mem_mb`` is ``torch.cuda.max_memory_allocated`` minus the
allocation after the build (``cuda_peak_mb``: the maximum itself).
"""
import gc
import os
import resource
import statistics
import time
from typing import Any, Callable, Dict, List, Optional

from .cases import NUM_CLASSES, VARIANTS, parse_arch


def save_reference_weights(arch: Dict[str, List[int]], path: str,
                           seed: int = 0,
                           num_labels: Optional[int] = None) -> None:
    """A randomly initialised ``CvtModel`` (``num_labels=None``) or
    ``CvtForImageClassification`` state dict, with non-trivial BN
    statistics, saved to ``path``."""
    import torch

    from cvt_backbone.testing import make_hf_cvt
    torch.save(make_hf_cvt(arch, num_labels=num_labels,
                           seed=seed).state_dict(), path)


def _rss_now_mb() -> float:
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, ValueError):
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_theirs(arch: Dict[str, List[int]], weights: str,
                 classifier: bool):
    """``transformers``' ``CvtModel`` / ``CvtForImageClassification`` with
    the reference weights."""
    import torch
    import transformers

    from cvt_backbone.testing.reference import hf_config
    cfg = hf_config(arch, num_labels=NUM_CLASSES)
    model = (transformers.CvtForImageClassification(cfg) if classifier
             else transformers.CvtModel(cfg))
    model.load_state_dict(torch.load(weights, map_location='cpu',
                                     weights_only=True))
    return model


def build_ours(arch: Dict[str, List[int]], weights: str, classifier: bool,
               **backbone):
    """Ours with the reference weights (``transformers`` layout, converted
    by the checkpoint package): the backbone (last stage map) or
    mmpretrain's ``ImageClassifier``; GELU like theirs."""
    from cvt_backbone.apis import (
        backbone_config,
        build_model,
        classifier_config,
    )
    backbone.update(act_cfg=dict(type='GELU'), drop_path_rate=0.)
    cfg = (classifier_config(arch, NUM_CLASSES, **backbone) if classifier
           else backbone_config(arch, out_indices=(2, ), out_type='featmap',
                                **backbone))
    return build_model(cfg, weights, strict=True)


def build_variant(spec: Dict[str, Any]):
    """The model a spec's variant measures, with the saved reference
    weights (``spec['weights']``): for ``train_cls`` the classifier (ours:
    mmpretrain's ``ImageClassifier`` with the class-token CvT and a
    ``LinearClsHead``), else the backbone; an onnxruntime session for an
    ONNX variant."""
    variant = VARIANTS[spec['variant']]
    arch = parse_arch(spec['arch'])
    classifier = spec['mode'] == 'train_cls'
    if variant.build == 'theirs':
        model = build_theirs(arch, spec['weights'], classifier)
    else:
        model = build_ours(arch, spec['weights'], classifier,
                           **variant.backbone)
    if spec['mode'] == 'infer':
        model.eval()
        if variant.build == 'ours' and variant.fuse:
            model.fuse()
    else:
        model.train()
    if variant.onnx is not None:
        return onnx_session(model, spec)
    return model.to(spec['device'])


def onnx_session(model, spec: Dict[str, Any]):
    """An onnxruntime session on ``model`` exported as the spec's variant
    says (checked against torch by the export), with torch's thread count.
    The file is exported once per run and variant, beside the reference
    weights, and reused by the later workers."""
    import torch

    from cvt_backbone.deploy import export_onnx, ort_session
    if spec['device'] != 'cpu' or spec['mode'] != 'infer':
        raise ValueError('onnxruntime variants measure CPU inference only')
    path = f'{spec["weights"]}.{spec["variant"]}.onnx'
    if not os.path.exists(path):
        tmp = f'{path}.{os.getpid()}.tmp.onnx'
        export_onnx(model, tmp, input_size=(64, 64),
                    **VARIANTS[spec['variant']].onnx)
        os.replace(tmp, path)
    return ort_session(path, threads=torch.get_num_threads())


def forward_fn(model, variant: str) -> Callable:
    """``x`` -> the output the step's loss is taken on (the logits of a
    classifier, the last stage map of a backbone) for a model of
    :func:`build_variant`."""
    import torch

    from cvt_backbone.models import CvT
    v = VARIANTS[variant]
    if v.onnx is not None:  # an onnxruntime session
        feed = model.get_inputs()[0].name
        return lambda x: model.run(None, {feed: x.numpy()})[-1]
    if v.build == 'theirs':
        if type(model).__name__ == 'CvtForImageClassification':
            return lambda x: model(x).logits
        return lambda x: model(x).last_hidden_state
    if isinstance(model, CvT):
        def forward(x):
            return model(x)[-1]
    else:  # mmpretrain's ImageClassifier: backbone and head, the logits
        def forward(x):
            return model(x, mode='tensor')
    return torch.compile(forward) if v.compile else forward


def profile_step(step: Callable[[], None], rows: int = 12) -> List[Dict]:
    """The ops taking the most self time in one ``step``: name, calls, ms
    and share of the step."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total,
                    reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    return [dict(name=e.key, calls=e.count,
                 ms=e.self_cpu_time_total / 1e3,
                 share=e.self_cpu_time_total / total)
            for e in events[:rows]]


def _training_step(model, forward: Callable, x, spec: Dict[str, Any],
                   autocast, generator) -> Callable[[], None]:
    """Forward, loss (cross-entropy on random labels for the classifier,
    the squared mean of the backbone's map), backward and AdamW."""
    import torch
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if spec['mode'] == 'train_cls':
        labels = torch.randint(0, NUM_CLASSES, (spec['batch'], ),
                               generator=generator).to(x.device)

        def loss_fn(out):
            return torch.nn.functional.cross_entropy(out.float(), labels)
    else:
        def loss_fn(out):
            return out.float().square().mean()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast:
            out = forward(x)
        loss_fn(out).backward()
        opt.step()
    return step


def run_model_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One measurement: build, warm up, time ``iters`` steps; returns times
    (s per step) and memory (MiB)."""
    import torch
    torch.set_num_threads(spec.get('threads') or os.cpu_count() or 1)
    device = spec['device']
    cuda = device.startswith('cuda')
    model = build_variant(spec)
    forward = forward_fn(model, spec['variant'])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(spec['batch'], 3, spec['h'], spec['w'],
                    generator=g).to(device)
    autocast = torch.autocast(device.split(':')[0], dtype=torch.bfloat16,
                              enabled=spec['dtype'] == 'bf16')
    if spec['mode'] in ('train', 'train_cls'):
        step = _training_step(model, forward, x, spec, autocast, g)
    else:
        def step() -> None:
            with torch.no_grad(), autocast:
                forward(x)

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
    # the kernel's RSS counters are approximate (per-CPU batches of
    # pages): a step that needs no new memory can read a few pages below
    # its baseline, which is no working memory at all
    out = dict(times=times, time=statistics.median(times),
               rss_after_build_mb=base_rss, peak_rss_mb=_peak_rss_mb(),
               mem_mb=max(_peak_rss_mb() - base_rss, 0.))
    if cuda:
        out['cuda_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
        out['mem_mb'] = (torch.cuda.max_memory_allocated() - base) / 2**20
    if spec.get('profile'):
        out['profile'] = profile_step(step)
    return out


def matmul_peak(n: int, device: str, iters: int = 3,
                threads: Optional[int] = None) -> Dict[str, Any]:
    """fp32 matrix-multiply FLOP/s (2 n^3 per product), best of ``iters``."""
    import torch
    torch.set_num_threads(threads or os.cpu_count() or 1)
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
