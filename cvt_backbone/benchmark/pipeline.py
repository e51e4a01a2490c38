"""The input-pipeline benchmark: images/s on one core (one thread, one
process) of JPEG decoding alone (OpenCV, what ``LoadImageFromFile`` runs),
of mmpretrain's Swin/DeiT ImageNet training pipeline, of this project's
(``configs/cvt13_classify.py``) and of timm's ``create_transform`` for the
same recipe, all in the same process, alternating image by image, on
generated ImageNet-sized JPEGs
(:func:`cvt_backbone.testing.generate_jpeg_classification`), with the time
of each step. :func:`run_pipeline_worker` is one measurement (run by
:mod:`.worker` in a fresh process).
"""
import contextlib
import glob
import os.path as osp
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .cases import CLASSIFY_CONFIG, PIPELINES

Steps = List[Tuple[str, Callable[[Any], Any]]]


def train_jpegs(root: str) -> List[str]:
    """The ``train/<class>/*.JPEG`` files under ``root``, sorted."""
    return sorted(glob.glob(osp.join(root, 'train', '*', '*.JPEG')))


def jpeg_files(root: str, limit: Optional[int] = None) -> List[str]:
    files = train_jpegs(root)
    if not files:
        raise FileNotFoundError(f'no train/<class>/*.JPEG under {root}')
    return files[:limit] if limit else files


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
        steps.append((cfg['type'], TRANSFORMS.build(cfg)))
    return steps


def _decode_steps() -> Steps:
    import cv2
    import numpy as np

    def decode(path):
        with open(path, 'rb') as f:
            buf = np.frombuffer(f.read(), np.uint8)
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return [('read + cv2.imdecode', decode)]


def _timm_steps(size: int) -> Steps:
    from PIL import Image
    from timm.data import create_transform
    tf = create_transform(size, is_training=True,
                          auto_augment='rand-m9-mstd0.5-inc1',
                          color_jitter=0.4, re_prob=0.25, re_mode='pixel',
                          re_count=1, interpolation='bicubic')

    def load(path):
        with open(path, 'rb') as f:
            img = Image.open(f)
            return img.convert('RGB')
    return [('PIL open + convert', load)] + [
        (type(t).__name__, t) for t in tf.transforms]


def pipeline_steps(name: str, size: int = 224,
                   config: Optional[str] = None) -> Steps:
    """The steps of one implementation of the training input pipeline, each
    ``(name, fn)`` with ``fn`` taking the previous step's output; the first
    takes an image path. ``decode``: reading and ``cv2.imdecode`` (what
    LoadImageFromFile runs); ``mmpretrain``: its Swin/DeiT ImageNet
    pipeline; ``ours``: the training pipeline of ``config``
    (``configs/cvt13_classify.py``); ``timm``: ``create_transform`` for the
    release's recipe, after PIL's loading (timm's ImageFolder; run it
    under :func:`posterize_as_older_pillow`)."""
    if name == 'decode':
        return _decode_steps()
    if name == 'timm':
        return _timm_steps(size)
    if name not in ('mmpretrain', 'ours'):
        raise ValueError(f'unknown pipeline {name!r}; known: '
                         f'{list(PIPELINES)}')
    from mmengine.config import Config
    if name == 'mmpretrain':
        from mmengine.utils import get_installed_path
        config = osp.join(get_installed_path('mmpretrain'), '.mim', 'configs',
                          '_base_', 'datasets', 'imagenet_bs64_swin_224.py')
    pipeline = Config.fromfile(config or CLASSIFY_CONFIG
                               ).train_dataloader.dataset.pipeline
    return [('results', lambda path: dict(img_path=path, gt_label=0))
            ] + _mmengine_steps(pipeline, size)


@contextlib.contextmanager
def posterize_as_older_pillow() -> Iterator[None]:
    """While open, ``PIL.ImageOps.posterize`` with ``bits < 1`` gives a
    black image, as Pillow before 13 did.

    timm's increasing Posterize asks for 0 bits at the top magnitudes;
    Pillow 13 (pinned) raises for bits < 1, which stopped timm's pipeline
    mid-run. With the older answer timm's pipeline runs as timm meant it.
    This is a patch of Pillow, so it is held only while the benchmark's
    pipeline worker runs and undone afterwards: nothing else (the project's
    transforms, a test process) sees it."""
    from PIL import ImageOps
    posterize = ImageOps.posterize

    def allowing_zero_bits(image, bits):
        if bits < 1:
            return image.point(lambda _: 0)
        return posterize(image, bits)
    ImageOps.posterize = allowing_zero_bits
    try:
        yield
    finally:
        ImageOps.posterize = posterize


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
    with posterize_as_older_pillow():
        for steps in impls.values():  # warm up: imports, caches, allocators
            for path in files[:5]:
                _run_steps(steps, path)
        totals = {n: [0.] * len(steps) for n, steps in impls.items()}
        names = list(impls)
        count = 0
        for p in range(spec.get('passes', 1)):
            for i, path in enumerate(files):
                for n in (names if (i + p) % 2 == 0 else names[::-1]):
                    _run_steps(impls[n], path, totals[n])
                count += 1
    return dict(images=count, time={n: sum(t) / count
                                    for n, t in totals.items()},
                steps={n: [(name, t / count) for (name, _), t in
                           zip(impls[n], totals[n])] for n in names})


def _run_steps(steps: Steps, path: str,
               acc: Optional[List[float]] = None) -> Any:
    """Run ``steps`` on ``path``, adding each step's seconds to ``acc``."""
    out = path
    for k, (_, fn) in enumerate(steps):
        t0 = time.perf_counter()
        out = fn(out)
        if acc is not None:
            acc[k] += time.perf_counter() - t0
    return out
