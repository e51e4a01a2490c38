"""From a config file and command-line choices to an mmengine ``Runner``,
on GPU clusters and CPU-only machines alike (what ``tools/train.py`` and
``tools/test.py`` call).

``load_from`` (and ``tools/test.py``'s checkpoint) may be any checkpoint
source (file, URL, Hugging Face repo, model-zoo name) in any CvT layout.

mmpretrain's ``tools/train.py`` does the same merging inside the script; it
is a function here so that both of this project's tools (and notebooks)
share one copy, and because it adds what mmengine lacks on a machine
without CUDA: AMP falls back to fp32 with a notice, and multi-process runs
use gloo with DDP over CPU modules (mmengine's launcher would call
``torch.cuda.set_device``).
"""
import logging
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from ..checkpoint import as_checkpoint_scheme
from .data_faults import apply_bad_image_policy


def build_config(config: str, work_dir: Optional[str] = None,
                 resume: Optional[str] = None,
                 load_from: Optional[str] = None, amp: bool = False,
                 auto_scale_lr: bool = False,
                 cfg_options: Optional[dict] = None,
                 launcher: str = 'none') -> Config:
    """Load ``config`` and apply the command-line choices to it.

    ``resume='auto'`` continues from the latest checkpoint of the work dir,
    another string from that checkpoint. ``load_from`` (or the config's)
    may be any checkpoint source in any CvT layout. Unreadable images are
    skipped and reported as the config's ``bad_images`` says
    (:func:`~cvt_backbone.engine.data_faults.apply_bad_image_policy`).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(config))[0])
    if load_from is not None:
        cfg.resume, cfg.load_from = False, load_from
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if cfg.get('load_from') and not cfg.get('resume'):
        # any source (zoo name, repo id, URL, published layout): read
        # safely and converted by this project's checkpoint loader
        cfg.load_from = as_checkpoint_scheme(cfg.load_from)
    if auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    wrapper = cfg.get('optim_wrapper', {})
    if amp:
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    if wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        print_log('AMP needs a GPU; training in fp32 on this CPU-only '
                  'machine', logger='current', level=logging.WARNING)
        wrapper['type'] = 'OptimWrapper'
        # AmpOptimWrapper's own arguments, which OptimWrapper refuses
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
    if launcher != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] \
            = 'gloo'
        # DDP over CPU modules takes no device ids (mmengine passes the
        # local rank); the config's own wrapper settings are kept.
        wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper_cfg['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper_cfg
    apply_bad_image_policy(cfg)
    return cfg


def init_cpu_process_group(cfg: Config) -> None:
    """mmengine's pytorch launcher calls ``torch.cuda.set_device``; on a
    machine without CUDA the gloo process group is started here instead
    (from torchrun's environment), and mmengine then uses it."""
    import torch.distributed as dist
    if cfg.launcher == 'none' or torch.cuda.is_available() or \
            dist.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'launcher {cfg.launcher!r} needs CUDA here; use '
                           "'pytorch' (torchrun) for CPU runs")
    dist.init_process_group(backend='gloo')


def build_runner(cfg: Config):
    """The ``Runner`` for ``cfg`` (``runner_type`` honoured), after the CPU
    process group when one is needed."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    init_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
