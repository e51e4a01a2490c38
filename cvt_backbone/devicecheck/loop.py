"""Stage ``loop``: the real training loop, ``tools/train.py
configs/cvt13_classify.py``, on a generated ImageNet-layout JPEG folder.

The JPEGs are photo-like, at ImageNet's sizes (long side 500, the seven
aspect ratios of :mod:`cvt_backbone.testing.synthetic`, quality 92),
written by all cores. A config inheriting ``configs/cvt13_classify.py``
keeps its model, dataset, pipeline, data preprocessor (Mixup/CutMix),
optimizer and hooks, and changes only: the data root, the loader (batch,
workers, an infinite sampler so no epoch boundary stalls the workers),
an iteration-based loop of a few hundred iterations, AMP in bf16, no
validation or checkpoint, and mmengine logging every iteration's own time
and data time. The figures: images/s end to end, the data wait per
iteration and its share of the step, the images/s the device would take
if data were free, the training pipeline's images/s on one core, and from
those the loader cores the device needs.
"""
import math
import multiprocessing
import os
import runpy
import statistics
import sys
import time
from typing import Any, Dict, Optional

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _write_jpeg(job) -> str:
    from cvt_backbone.testing import photo_like_image
    from cvt_backbone.testing.synthetic import jpeg_image_size
    root, cls, i, long_side, quality = job
    rng = np.random.RandomState([7, cls, i])
    h, w = jpeg_image_size(rng, long_side)
    rel = f'c{cls}/img_{i:06d}.JPEG'
    cv2.imwrite(os.path.join(root, 'train', rel), photo_like_image(rng, h, w),
                [cv2.IMWRITE_JPEG_QUALITY, quality])
    return f'{rel} {cls}'


def write_jpeg_folder(root: str, images: int, long_side: int,
                      classes: int = 8, quality: int = 92,
                      processes: Optional[int] = None) -> str:
    """``root/train/c<k>/img_<i>.JPEG`` and ``root/meta/train.txt``
    (mmpretrain's ImageNet layout), ``images`` photo-like JPEGs written in
    parallel. Returns ``root``."""
    for c in range(classes):
        os.makedirs(os.path.join(root, 'train', f'c{c}'), exist_ok=True)
    os.makedirs(os.path.join(root, 'meta'), exist_ok=True)
    jobs = [(root, i % classes, i, long_side, quality) for i in range(images)]
    processes = processes or os.cpu_count() or 1
    with multiprocessing.get_context('fork').Pool(processes) as pool:
        lines = pool.map(_write_jpeg, jobs, chunksize=16)
    with open(os.path.join(root, 'meta', 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return root


def loop_config(path: str, spec: Dict[str, Any], data_root: str,
                cuda: bool) -> str:
    """The config the loop runs: ``spec['config']`` with the changes of
    this module's docstring (and the dry run's tiny arch)."""
    base = os.path.join(ROOT, spec['config'])
    arch = ''
    if spec.get('arch'):
        arch = (f"model = dict(backbone=dict(arch=dict(_delete_=True, "
                f"**{spec['arch']!r})), head=dict(in_channels="
                f"{spec['arch']['embed_dims'][-1]}))\n")
    text = f"""_base_ = [{base!r}]
{arch}train_dataloader = dict(
    batch_size={spec['batch']}, num_workers={spec['workers']},
    persistent_workers={spec['workers'] > 0}, pin_memory={cuda},
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root={data_root!r}, split='train'))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters={spec['iters']})
optim_wrapper = dict(dtype={spec['dtype']!r})
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
param_scheduler = None
default_hooks = dict(logger=dict(type='LoggerHook', interval=1),
                     checkpoint=None)
log_processor = dict(window_size=1, by_epoch=False)
randomness = dict(seed=0)
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_train_py(cfg: str, work_dir: str) -> Dict[str, Any]:
    """``tools/train.py cfg --work-dir work_dir``, run as its own
    ``__main__`` in this stage's process (which has mmpretrain, this
    package and mmpretrain's guard loaded already); its wall time, or the
    error it raised."""
    argv = sys.argv
    sys.argv = [os.path.join('tools', 'train.py'), cfg, '--work-dir',
                work_dir]
    t0 = time.perf_counter()
    try:
        runpy.run_path(os.path.join(ROOT, 'tools', 'train.py'),
                       run_name='__main__')
    except Exception as e:
        return dict(error=f'{type(e).__name__}: {str(e)[:500]}',
                    wall_s=time.perf_counter() - t0)
    finally:
        sys.argv = argv
        sys.stdout.flush()
    return dict(wall_s=time.perf_counter() - t0)


def iteration_figures(work_dir: str, batch: int, skip: int
                      ) -> Dict[str, Any]:
    """Per-iteration time and data time from mmengine's scalars, the first
    ``skip`` iterations left out (workers starting, the first kernels)."""
    from cvt_backbone.visualization import read_scalars, split_records
    train, _ = split_records(read_scalars(work_dir))
    later = [r for it, r in train.items() if it > skip]
    if not later:
        raise RuntimeError(f'no training iterations after the first {skip} '
                           f'in the logs under {work_dir}')
    t = statistics.median(r['time'] for r in later)
    d = statistics.median(r['data_time'] for r in later)
    compute = max(t - d, 1e-9)
    return dict(iterations=len(later), time_s=t, data_time_s=d,
                data_wait_share=d / t, images_per_s=batch / t,
                compute_images_per_s=batch / compute,
                mean_data_time_s=statistics.mean(r['data_time']
                                                 for r in later),
                losses_finite=all(math.isfinite(r['loss']) for r in later))


def pipeline_per_core(cfg_path: str, root: str, images: int
                      ) -> Dict[str, Any]:
    """Images/s of the config's training pipeline in this process, one
    thread (what one loader worker does), over the first ``images``
    files."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    import cvt_backbone  # noqa: F401 (registers the fast transforms)
    cfg = Config.fromfile(cfg_path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    with open(os.path.join(root, 'meta', 'train.txt')) as f:
        items = [ln.split() for ln in f if ln.strip()][:images]
    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    try:
        def one(rel, label):
            pipeline(dict(img_path=os.path.join(root, 'train', rel),
                          gt_label=int(label)))
        one(*items[0])
        t0 = time.perf_counter()
        for rel, label in items:
            one(rel, label)
        dt = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)
    return dict(images=len(items), seconds=dt, images_per_s=len(items) / dt)


def cores_needed(compute_images_per_s: float, per_core_images_per_s: float
                 ) -> int:
    """Loader cores that keep up with the device: its images/s without data
    wait over one core's pipeline images/s, rounded up, plus the core of
    the training process."""
    return math.ceil(compute_images_per_s / per_core_images_per_s) + 1


def run(spec: Dict[str, Any], rec) -> None:
    import torch
    cuda = spec['device'] == 'cuda' and torch.cuda.is_available()
    scratch = spec['scratch']
    t0 = time.perf_counter()
    data = write_jpeg_folder(os.path.join(scratch, 'jpegs'), spec['images'],
                             spec['long_side'])
    rec.set('data', dict(root=data, images=spec['images'],
                         long_side=spec['long_side'],
                         seconds=time.perf_counter() - t0))
    work = os.path.join(scratch, 'loop')
    os.makedirs(work, exist_ok=True)
    cfg = loop_config(os.path.join(scratch, 'loop_cfg.py'), spec, data, cuda)
    proc = run_train_py(cfg, work)
    rec.set('train_py', proc)
    if 'error' in proc:
        raise RuntimeError(f"tools/train.py failed: {proc['error']}")
    fig = iteration_figures(work, spec['batch'], spec['skip'])
    fig.update(batch=spec['batch'], workers=spec['workers'],
               amp_dtype=spec['dtype'] if cuda else
               'fp32 (no CUDA: tools/train.py falls back from AMP)')
    rec.set('loop', fig)
    core = pipeline_per_core(cfg, data, spec['pipeline_images'])
    rec.set('pipeline_one_core', core)
    need = cores_needed(fig['compute_images_per_s'], core['images_per_s'])
    rec.set('cores_needed', need)
    rec.set('checks', {'losses finite': fig['losses_finite']})
    rec.finish(
        f"{fig['images_per_s']:.3g} img/s end to end (batch "
        f"{spec['batch']}, {spec['workers']} workers, {fig['amp_dtype']}), "
        f"data wait {fig['data_time_s'] * 1e3:.1f} ms of "
        f"{fig['time_s'] * 1e3:.1f} ms ({100 * fig['data_wait_share']:.1f}%)"
        f"; device alone {fig['compute_images_per_s']:.3g} img/s, pipeline "
        f"{core['images_per_s']:.3g} img/s per core -> {need} cores")

