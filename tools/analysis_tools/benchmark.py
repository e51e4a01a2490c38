"""Side-by-side benchmark: our CvT against ``transformers``' CvT, and the
training input pipeline against JPEG decoding.

Model cases (``infer*``, ``train*``: backbone, ``trainstep*``: classifier
training step) run identical weights: a randomly initialised
``CvtModel``/``CvtForImageClassification`` is saved once, and each worker
loads it (theirs directly, ours through the converter
``convert_cvt_state_dict``, with ``act_cfg=GELU`` so the numerics are the
same). A training step is forward, loss, backward and the AdamW step.
Every measurement runs in its own fresh subprocess (this script with
``--worker SPEC``) so peak memory belongs to that measurement alone; the
implementations alternate, each pair is repeated, and medians are reported.

Memory: on CPU the worker reports the process's peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS right after the model was
built; the table shows *peak minus that baseline* (the working memory of the
measured step: activations, attention buffers, gradients and optimizer
state) and the JSON has both. On CUDA it reports
``torch.cuda.max_memory_allocated`` minus the allocation after the build.

``pipeline``: images/s on one core (one thread, one process) of JPEG decoding
alone (OpenCV, what ``LoadImageFromFile`` runs), of mmpretrain's Swin/DeiT
ImageNet training pipeline, of this project's (``configs/cvt13_classify.py``)
and of timm's ``create_transform`` for the same recipe, all in the same
process, alternating image by image, on generated ImageNet-sized JPEGs
(``cvt_backbone.testing.generate_jpeg_classification``), with the time of
each step. ``trainloop``: images/s of a real ``tools/train.py`` run of that
config on the same JPEGs with N loader workers, its model replaced by
``cvt_backbone.testing.LoaderProbe`` (a step that costs nothing) so that the
loader, not the model, sets the pace.

    python tools/analysis_tools/benchmark.py --out docs/benchmark
    python tools/analysis_tools/benchmark.py --cases infer1024 \
        --variants ours theirs --repeats 1 --dtypes fp32
    python tools/analysis_tools/benchmark.py --cases pipeline trainloop \
        --out work_dirs/bench_pipeline
"""
import argparse
import datetime
import glob
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# name -> mode, batch, H, W. Modes: infer / train (the backbone, featmap
# out, squared-mean loss), train_cls (the classifier: class token, Linear,
# cross-entropy), pipeline (batch = images per step: 1), trainloop (batch of
# the tools/train.py run).
CASES: Dict[str, Dict[str, Any]] = {
    'infer224': dict(mode='infer', batch=32, h=224, w=224),
    'infer512': dict(mode='infer', batch=1, h=512, w=512),
    'infer1024': dict(mode='infer', batch=1, h=1024, w=1024),
    'infer800x1333': dict(mode='infer', batch=1, h=800, w=1333),
    'train224': dict(mode='train', batch=16, h=224, w=224),
    'train512': dict(mode='train', batch=2, h=512, w=512),
    'trainstep224': dict(mode='train_cls', batch=16, h=224, w=224),
    'trainstep384': dict(mode='train_cls', batch=8, h=384, w=384),
    'pipeline': dict(mode='pipeline', batch=1, h=224, w=224),
    'trainloop': dict(mode='trainloop', batch=32, h=224, w=224),
}
MODEL_MODES = ('infer', 'train', 'train_cls')
# ours: eager (BatchNorm folded for inference); ours_cp: with_cp=True
# (training only); ours_compile: torch.compile'd (for training: forward and
# backward; the optimizer step stays eager); theirs: transformers;
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


# the pipeline case: decode alone, then the three pipelines
PIPELINES = ('decode', 'mmpretrain', 'ours', 'timm')


def parse_arch(arch: Any) -> Dict[str, List[int]]:
    """``'13'``/``'cvt-21'``/``'w24'``, a dict or its JSON -> per-stage
    ``embed_dims``, ``depths``, ``num_heads`` (resolved by ``CvT``)."""
    from cvt_backbone.models import CvT
    if isinstance(arch, str) and arch.lstrip().startswith('{'):
        arch = json.loads(arch)
    full = CvT.resolve_arch(arch)
    return {k: list(full[k]) for k in ('embed_dims', 'depths', 'num_heads')}


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
    """The model a spec names, loaded with the saved reference weights: for
    ``train_cls`` the classifier (ours: the class-token CvT and a Linear),
    else the backbone."""
    import torch
    arch = parse_arch(spec['arch'])
    state = torch.load(spec['weights'], map_location='cpu', weights_only=True)
    variant = spec['variant']
    classifier = spec['mode'] == 'train_cls'
    if variant == 'theirs':
        import transformers

        from cvt_backbone.testing.reference import hf_config
        cfg = hf_config(arch)
        model = (transformers.CvtForImageClassification(cfg) if classifier
                 else transformers.CvtModel(cfg))
        model.load_state_dict(state)
    else:
        from cvt_backbone.checkpoint import convert_cvt_state_dict
        from cvt_backbone.models import CvT

        def strip_prefix(sd, prefix):
            return {k[len(prefix):]: v for k, v in sd.items()
                    if k.startswith(prefix)}
        converted, _ = convert_cvt_state_dict(state)
        backbone = strip_prefix(converted, 'backbone.')
        model = CvT(arch, act_cfg=dict(type='GELU'), drop_path_rate=0.,
                    out_indices=(2, ), with_cp=variant == 'ours_cp',
                    out_type='cls_token' if classifier else 'featmap')
        model.load_state_dict(backbone)
        if classifier:
            fc = strip_prefix(converted, 'head.fc.')
            head = torch.nn.Linear(arch['embed_dims'][-1],
                                   fc['weight'].shape[0])
            head.load_state_dict(fc)
            model = torch.nn.ModuleDict(dict(backbone=model, head=head))
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

    from cvt_backbone.deploy import export_onnx, ort_session
    if spec['device'] != 'cpu' or spec['mode'] != 'infer':
        raise ValueError('onnxruntime variants measure CPU inference only')
    path = f'{spec["weights"]}.opset{opset}.onnx'
    if not os.path.exists(path):
        tmp = f'{path}.{os.getpid()}.tmp.onnx'
        export_onnx(model, tmp, input_size=(64, 64), opset=opset)
        os.replace(tmp, path)
    return ort_session(path, threads=torch.get_num_threads())


def _forward_fn(model, variant: str):
    """``x`` -> the output the step's loss is taken on (the logits of a
    classifier)."""
    import torch
    classifier = isinstance(model, torch.nn.ModuleDict) or \
        type(model).__name__ == 'CvtForImageClassification'
    if variant in ONNX_OPSETS:  # an onnxruntime session
        feed = model.get_inputs()[0].name
        return lambda x: model.run(None, {feed: x.numpy()})[-1]
    if variant == 'theirs':
        if classifier:
            return lambda x: model(x).logits
        return lambda x: model(x).last_hidden_state
    if classifier:
        def forward(x):
            return model['head'](model['backbone'](x)[0])
    else:
        def forward(x):
            return model(x)[-1]
    if variant == 'ours_compile':
        return torch.compile(forward)
    return forward


def _profile_step(step: Callable[[], None], rows: int = 12) -> List[Dict]:
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


def run_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One measurement: build, warm up, time ``iters`` steps; returns times
    (s per step) and memory (MiB)."""
    import torch
    if spec.get('mode') == 'pipeline':
        return run_pipeline_worker(spec)
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
    train = spec['mode'] in ('train', 'train_cls')
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4) if train else None
    if spec['mode'] == 'train_cls':
        labels = torch.randint(0, 1000, (spec['batch'], ),
                               generator=g).to(device)

        def loss_fn(out):
            return torch.nn.functional.cross_entropy(out.float(), labels)
    else:
        def loss_fn(out):
            return out.float().square().mean()

    def step() -> None:
        if train:
            opt.zero_grad(set_to_none=True)
            with autocast:
                out = forward(x)
            loss_fn(out).backward()
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
    if spec.get('profile'):
        out['profile'] = _profile_step(step)
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


# -- input pipeline -----------------------------------------------------------
Steps = List[Tuple[str, Callable[[Any], Any]]]


def _mmengine_steps(pipeline: List[dict], size: int) -> Steps:
    """The transforms of an mmpretrain pipeline config, built as mmpretrain's
    Runner builds them, with the crop resized to ``size``."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import TRANSFORMS

    import cvt_backbone  # noqa: F401  (registers this project's transforms)
    init_default_scope('mmpretrain')
    steps = []
    for cfg in pipeline:
        cfg = dict(cfg)
        if 'RandomResizedCrop' in cfg['type']:
            cfg['scale'] = size
        t = TRANSFORMS.build(cfg)
        steps.append((cfg['type'], t))
    return steps


def pipeline_steps(name: str, size: int = 224,
                   config: Optional[str] = None) -> Steps:
    """The steps of one implementation of the training input pipeline, each
    ``(name, fn)`` with ``fn`` taking the previous step's output; the first
    takes an image path. ``decode``: reading and ``cv2.imdecode`` (what
    LoadImageFromFile runs); ``mmpretrain``: its Swin/DeiT ImageNet
    pipeline; ``ours``: the training pipeline of ``config``
    (``configs/cvt13_classify.py``); ``timm``: ``create_transform`` for the
    release's recipe, after PIL's loading (timm's ImageFolder)."""
    if name == 'decode':
        import cv2
        import numpy as np

        def decode(path):
            with open(path, 'rb') as f:
                buf = np.frombuffer(f.read(), np.uint8)
            return cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return [('read + cv2.imdecode', decode)]
    if name in ('mmpretrain', 'ours'):
        from mmengine.config import Config
        if name == 'mmpretrain':
            from mmengine.utils import get_installed_path
            config = os.path.join(get_installed_path('mmpretrain'), '.mim',
                                  'configs', '_base_', 'datasets',
                                  'imagenet_bs64_swin_224.py')
        else:
            config = config or os.path.join(ROOT, 'configs',
                                            'cvt13_classify.py')
        pipeline = Config.fromfile(config).train_dataloader.dataset.pipeline
        steps = _mmengine_steps(pipeline, size)
        return [('results', lambda path: dict(img_path=path, gt_label=0))
                ] + steps
    if name == 'timm':
        from PIL import Image, ImageOps
        from timm.data import create_transform
        _posterize_as_older_pillow(ImageOps)
        tf = create_transform(size, is_training=True,
                              auto_augment='rand-m9-mstd0.5-inc1',
                              color_jitter=0.4, re_prob=0.25,
                              re_mode='pixel', re_count=1,
                              interpolation='bicubic')

        def load(path):
            with open(path, 'rb') as f:
                img = Image.open(f)
                return img.convert('RGB')
        return [('PIL open + convert', load)] + [
            (type(t).__name__, t) for t in tf.transforms]
    raise ValueError(f'unknown pipeline {name!r}; known: {PIPELINES}')


def _posterize_as_older_pillow(image_ops) -> None:
    """timm's increasing Posterize asks for 0 bits at the top magnitudes
    (a black image, as older Pillow gave it); Pillow 13 (pinned) raises for
    bits < 1. Restore the older answer so timm's pipeline runs as timm
    meant it (only in this benchmark process)."""
    posterize = image_ops.posterize
    if getattr(posterize, 'allows_zero_bits', False):
        return

    def allowing_zero_bits(image, bits):
        if bits < 1:
            return image.point(lambda _: 0)
        return posterize(image, bits)
    allowing_zero_bits.allows_zero_bits = True
    image_ops.posterize = allowing_zero_bits


def _train_jpegs(root: str) -> List[str]:
    return sorted(glob.glob(os.path.join(root, 'train', '*', '*.JPEG')))


def jpeg_files(root: str, limit: Optional[int] = None) -> List[str]:
    files = _train_jpegs(root)
    if not files:
        raise FileNotFoundError(f'no train/<class>/*.JPEG under {root}')
    return files[:limit] if limit else files


def run_pipeline_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Images/s on one core of each pipeline in ``spec['pipelines']``, all
    in this process, alternating which goes first image by image; returns
    seconds per image, in total and per step."""
    import random

    import cv2
    import numpy as np
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    np.random.seed(0)
    random.seed(0)
    torch.manual_seed(0)
    files = jpeg_files(spec['data'], spec.get('images'))
    impls = {n: pipeline_steps(n, spec['h'], spec.get('config'))
             for n in spec['pipelines']}
    for steps in impls.values():  # warm up: imports, caches, allocators
        for path in files[:5]:
            out = path
            for _, fn in steps:
                out = fn(out)
    totals = {n: [0.] * len(steps) for n, steps in impls.items()}
    names = list(impls)
    count = 0
    for p in range(spec.get('passes', 1)):
        for i, path in enumerate(files):
            order = names if (i + p) % 2 == 0 else names[::-1]
            for n in order:
                out = path
                acc = totals[n]
                for k, (_, fn) in enumerate(impls[n]):
                    t0 = time.perf_counter()
                    out = fn(out)
                    acc[k] += time.perf_counter() - t0
            count += 1
    return dict(images=count, time={n: sum(t) / count
                                    for n, t in totals.items()},
                steps={n: [(name, t / count) for (name, _), t in
                           zip(impls[n], totals[n])] for n in names})


def trainloop_config(path: str, data_root: str, work_dir: str, workers: int,
                     batch: int, epochs: int, config: str) -> str:
    """A config inheriting ``config`` that trains for ``epochs`` on the JPEG
    folder with ``workers`` loader workers, with the config's dataset,
    pipeline, loader and data preprocessor (Mixup/CutMix included) but
    ``LoaderProbe`` for the model (a step that costs nothing, so the loader
    sets the pace); no validation, checkpoint or learning-rate schedule."""
    text = f"""_base_ = [{config!r}]
custom_imports = dict(imports=['cvt_backbone', 'cvt_backbone.testing'],
                      allow_failed_imports=False)
model = dict(
    _delete_=True, type='LoaderProbe',
    data_preprocessor=dict(_base_.data_preprocessor,
                           type='mmpretrain.ClsDataPreprocessor',
                           batch_augments=_base_.model.train_cfg))
train_dataloader = dict(
    batch_size={batch}, num_workers={workers},
    persistent_workers={workers > 0}, pin_memory=False,
    dataset=dict(data_root={data_root!r}, split='train'))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs + 1})
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
param_scheduler = None
default_hooks = dict(logger=dict(interval=1), checkpoint=None)
log_processor = dict(window_size=1)  # each iteration's own time
custom_hooks = []
randomness = dict(seed=0)
work_dir = {work_dir!r}
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_trainloop(data_root: str, workers: int, batch: int, tmp: str,
                  epochs: int = 3, config: Optional[str] = None,
                  timeout: float = 1800.) -> Dict[str, Any]:
    """Images/s of ``tools/train.py`` on the JPEG folder with ``workers``
    loader workers: the batch over the median iteration time of the epochs
    after the first (workers started, persistent)."""
    from cvt_backbone.visualization import read_scalars, split_records
    config = config or os.path.join(ROOT, 'configs', 'cvt13_classify.py')
    work = tempfile.mkdtemp(dir=tmp, prefix=f'loop{workers}_')
    cfg = trainloop_config(os.path.join(work, 'cfg.py'), data_root, work,
                           workers, batch, epochs, config)
    # the training process runs one thread, as on a GPU host where its
    # tensor work is on the GPU: here its OpenMP threads would otherwise
    # spin against the loader workers for the same cores
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), cfg],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    train, _ = split_records(read_scalars(work))
    if proc.returncode != 0 or not train:
        return _failure('train.py', proc)
    per_epoch = len(train) // epochs
    later = [r for it, r in train.items() if it > per_epoch]
    t = statistics.median(r['time'] for r in later)
    return dict(time=t, images_per_s=batch / t, iterations=len(later),
                data_time=statistics.median(r['data_time'] for r in later))


# -- driver -----------------------------------------------------------------
def _spawn(spec: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--worker',
         json.dumps(spec)], capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        return _failure('worker', proc)
    return json.loads(lines[-1])


def _failure(what: str, proc: subprocess.CompletedProcess) -> Dict[str, str]:
    """A failed run as a result row: its exit code and last output lines."""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return dict(error=f'{what} exited {proc.returncode}: ' + ' | '.join(tail))


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
                  data: Optional[str] = None, pipeline_images: int = 120,
                  pipeline_passes: int = 2,
                  pipelines: Sequence[str] = PIPELINES,
                  loader_workers: Sequence[int] = (1, 2),
                  profile: bool = False,
                  timeout: float = 1800., log=print) -> Dict[str, Any]:
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
    import torch
    results: Dict[str, Any] = dict(
        arch=arch_d, device=device, machine=machine_info(device),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        torch=torch.__version__, repeats=repeats, iters=iters,
        warmup=warmup, memory=('peak RSS minus RSS after model build (MiB)'
                               if device == 'cpu' else
                               'max_memory_allocated minus after build (MiB)'),
        rows=[])
    modes = {CASES[c]['mode'] for c in cases}
    if modes & {'pipeline', 'trainloop'}:
        # a given folder with train/<class>/*.JPEG is used as it is (real
        # photos too); otherwise the generated set is written there
        from cvt_backbone.testing import JpegSpec, generate_jpeg_classification
        data = data or os.path.join('work_dirs', 'benchmark_jpegs')
        if not _train_jpegs(data):
            generate_jpeg_classification(data, JpegSpec(train_per_class=100,
                                                        val_per_class=1))
        results['data'] = data
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, 'cvt_hf.pth')
        cls_weights = os.path.join(tmp, 'cvt_hf_cls.pth')
        if modes & {'infer', 'train'}:
            save_reference_weights(arch_d, weights)
        if 'train_cls' in modes:
            save_reference_weights(arch_d, cls_weights, num_labels=1000)
        if modes & set(MODEL_MODES):
            peak = _spawn(dict(variant='peak', size=peak_size, device=device,
                               threads=threads, iters=3), timeout)
            results['matmul_peak_flops'] = peak.get('flops')
            if peak.get('flops'):
                log(f'fp32 matmul peak ({peak_size}^2): '
                    f'{peak["flops"] / 1e9:.1f} GFLOP/s')
        for name in cases:
            case = dict(CASES[name], **(sizes or {}).get(name, {}))
            if case['mode'] == 'pipeline':
                rows = _run_pipeline_case(name, case, data, repeats,
                                          pipeline_images, pipeline_passes,
                                          pipelines, timeout, log)
            elif case['mode'] == 'trainloop':
                rows = _run_trainloop_case(name, case, data, repeats,
                                           loader_workers, tmp, timeout, log)
            else:
                rows = _run_model_case(
                    name, case, arch_d, dtypes, variants, device, repeats,
                    dict(warmup=warmup, iters=iters, threads=threads,
                         profile=profile,
                         weights=(cls_weights if case['mode'] == 'train_cls'
                                  else weights)), timeout, log)
            results['rows'] += rows
    write_outputs(results, out_dir)
    return results


def _run_model_case(name, case, arch_d, dtypes, variants, device, repeats,
                    extra, timeout, log) -> List[Dict[str, Any]]:
    macs = useful_macs(arch_d, case['h'], case['w'])
    rows: List[Dict[str, Any]] = []
    for dtype in dtypes:
        if dtype == 'bf16' and device == 'cpu' and case['mode'] == 'train':
            continue
        vs = [v for v in variants if applies(v, case['mode'], dtype)]
        runs: Dict[str, List[Dict[str, Any]]] = {v: [] for v in vs}
        for r in range(repeats):
            for v in (vs if r % 2 == 0 else vs[::-1]):
                spec = dict(case, variant=v, arch=arch_d, dtype=dtype,
                            device=device, **extra)
                # a profile of the first run is enough
                spec['profile'] = extra.get('profile') and r == 0
                res = _spawn(spec, timeout)
                runs[v].append(res)
                if 'error' in res:
                    log(f'{name} {dtype} {v}: {res["error"]}')
        new = []
        for v, rs in runs.items():
            ok = [x for x in rs if 'error' not in x]
            row = dict(case=name, dtype=dtype, variant=v, **case,
                       macs_per_image=macs, runs=rs)
            if ok:
                t = statistics.median(x['time'] for x in ok)
                row.update(
                    time_s=t, images_per_s=case['batch'] / t,
                    mem_mb=statistics.median(x['mem_mb'] for x in ok),
                    peak_rss_mb=statistics.median(x['peak_rss_mb']
                                                  for x in ok))
                if case['mode'] == 'infer':
                    row['useful_flops'] = 2 * macs * case['batch'] / t
                profiles = [x['profile'] for x in ok if 'profile' in x]
                if profiles:
                    row['profile'] = profiles[0]
            new.append(row)
        _add_ratios(new)
        for row in new:
            log(_row_summary(row))
        rows += new
    return rows


def _run_pipeline_case(name, case, data, repeats, images, passes, pipelines,
                       timeout, log) -> List[Dict[str, Any]]:
    runs = []
    for r in range(repeats):
        order = list(pipelines) if r % 2 == 0 else list(pipelines)[::-1]
        res = _spawn(dict(case, variant='pipeline', data=data, images=images,
                          passes=passes, pipelines=order), timeout)
        if 'error' in res:
            log(f'{name}: {res["error"]}')
        runs.append(res)
    ok = [x for x in runs if 'error' not in x]
    rows = []
    for n in pipelines:
        row = dict(case=name, variant=n, dtype='uint8', **case,
                   runs=[x.get('time', {}).get(n) for x in runs])
        if ok:
            t = statistics.median(x['time'][n] for x in ok)
            steps = [(step, statistics.median(x['steps'][n][k][1]
                                              for x in ok))
                     for k, (step, _) in enumerate(ok[0]['steps'][n])]
            row.update(time_s=t, images_per_s=1 / t, steps=steps,
                       images=ok[0]['images'])
        rows.append(row)
    decode = next((r for r in rows if r['variant'] == 'decode'
                   and 'time_s' in r), None)
    for row in rows:
        if decode and 'time_s' in row:
            row['of_decode'] = decode['time_s'] / row['time_s']
        log(_pipeline_summary(row))
    return rows


def _run_trainloop_case(name, case, data, repeats, loader_workers, tmp,
                        timeout, log) -> List[Dict[str, Any]]:
    runs: Dict[int, List[Dict[str, Any]]] = {n: [] for n in loader_workers}
    for r in range(repeats):
        for n in (loader_workers if r % 2 == 0 else loader_workers[::-1]):
            res = run_trainloop(data, n, case['batch'], tmp,
                                timeout=timeout)
            if 'error' in res:
                log(f'{name} {n} workers: {res["error"]}')
            runs[n].append(res)
    rows = []
    for n, rs in runs.items():
        ok = [x for x in rs if 'error' not in x]
        row = dict(case=name, variant=f'{n} workers', workers=n,
                   dtype='uint8', **case, runs=rs)
        if ok:
            t = statistics.median(x['time'] for x in ok)
            row.update(time_s=t, images_per_s=case['batch'] / t,
                       data_time_s=statistics.median(x['data_time']
                                                     for x in ok))
        rows.append(row)
        log(_pipeline_summary(row))
    return rows


def _add_ratios(rows: List[Dict[str, Any]]) -> None:
    ref = {(r['case'], r['dtype']): r for r in rows
           if r['variant'] == 'theirs' and 'time_s' in r}
    for r in rows:
        t = ref.get((r['case'], r['dtype']))
        if t is None or 'time_s' not in r:
            continue
        r['speedup'] = t['time_s'] / r['time_s']
        r['mem_ratio'] = r['mem_mb'] / t['mem_mb'] if t['mem_mb'] > 0 else None


def _pipeline_summary(row: Dict[str, Any]) -> str:
    if 'time_s' not in row:
        return f'{row["case"]:<14} {row["variant"]:<13} failed'
    s = (f'{row["case"]:<14} {row["variant"]:<13} '
         f'{row["time_s"] * 1e3:9.2f} ms  {row["images_per_s"]:7.1f} img/s')
    if 'of_decode' in row:
        s += f'  {100 * row["of_decode"]:.0f}% of decode'
    return s


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


NAMES = dict(ours='ours', theirs='transformers', ours_cp='ours, with_cp',
             ours_compile='ours, torch.compile',
             ours_unfused='ours, BatchNorm not folded',
             ours_onnx='ours, onnxruntime (opset 18)',
             ours_onnx23='ours, onnxruntime (opset 23)')
PIPELINE_NAMES = dict(
    decode='JPEG decode alone (OpenCV)',
    mmpretrain="mmpretrain's Swin/DeiT ImageNet pipeline",
    ours='ours (configs/cvt13_classify.py)',
    timm="timm's create_transform (PIL)")


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
            lines += ['', f'Where the time goes: {r["case"]} {r["dtype"]} '
                      f'{NAMES[r["variant"]]} (one step, top ops by self '
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
        if 'time_s' not in r:
            lines.append(f'| {r["case"]} | {inp} | {r["dtype"]} | '
                         f'{NAMES[r["variant"]]} | failed | | | | |' +
                         (' |' if flops else ''))
            continue
        sp = f'{r["speedup"]:.2f}x' if 'speedup' in r else ''
        mr = (f'{100 * r["mem_ratio"]:.1f}%'
              if r.get('mem_ratio') is not None else '')
        fl = (f' {r["useful_flops"] / 1e9:.0f} |' if r.get('useful_flops')
              else ' |') if flops else ''
        lines.append(
            f'| {r["case"]} | {inp} | {r["dtype"]} | {NAMES[r["variant"]]} '
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
            notes.append(f'- bf16 autocast vs fp32, {case}, {NAMES[v]}: '
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
        name = PIPELINE_NAMES.get(r['variant'], r['variant'])
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
    if any(r['mode'] == 'infer' and 'time_s' in r for r in results['rows']):
        render_plot(results, os.path.join(out_dir, 'plot.png'))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='CvT (this project) vs transformers CvT, side by side '
        'on identical weights; the training input pipeline against JPEG '
        'decoding.')
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
                   help='default fp32 and bf16 (on CPU the backbone train '
                   'cases run fp32 only)')
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
    p.add_argument('--profile', action='store_true',
                   help='record the top ops of one step of each model run')
    p.add_argument('--data', default=None,
                   help='folder of generated JPEGs for pipeline/trainloop '
                   '(default work_dirs/benchmark_jpegs, made if missing)')
    p.add_argument('--pipeline-images', type=int, default=120,
                   help='images per pass of the pipeline case')
    p.add_argument('--pipeline-passes', type=int, default=2)
    p.add_argument('--pipelines', nargs='+', default=list(PIPELINES),
                   choices=list(PIPELINES))
    p.add_argument('--loader-workers', nargs='+', type=int, default=[1, 2],
                   help='loader workers of the trainloop runs')
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
                  peak_size=args.peak_size, sizes=sizes, data=args.data,
                  pipeline_images=args.pipeline_images,
                  pipeline_passes=args.pipeline_passes,
                  pipelines=args.pipelines,
                  loader_workers=args.loader_workers, profile=args.profile)
    print(f'wrote {args.out}/table.md and results.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
