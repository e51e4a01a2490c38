"""Training and testing through mmengine's Runner, and what that needs here.

* :func:`allow_mmengine_checkpoints` (run on import): mmengine 0.10.7 resumes
  with ``torch.load``, which on torch >= 2.6 defaults to ``weights_only=True``
  and then refuses mmengine's own checkpoints (``HistoryBuffer``, numpy
  arrays in the message hub). Exactly those types are allow-listed; anything
  else, a pickle that would run code included, is still refused.
* :class:`EpochSeedHook`: makes a resumed run draw the same random numbers
  as an uninterrupted one.
* :class:`TrainingSummaryHook`: prints the final figures, the checkpoint and
  curve paths, and saves the loss/accuracy curves as PNG at the end of a run.
* :func:`train` / :func:`test`: what ``tools/train.py`` and ``tools/test.py``
  call. Multi-process runs go through torch.distributed via mmengine's
  launcher; without CUDA the process group uses gloo and DDP wraps the CPU
  model, and AMP falls back to fp32 with a notice.
"""
import json
import os
import os.path as osp
import pickle
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.registry import HOOKS

_HISTORY_BUFFER_METHODS = {'min', 'max', 'mean', 'current'}


def _history_buffer_getattr(obj, name: str):
    """The only ``getattr`` an mmengine checkpoint needs: a HistoryBuffer
    pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``."""
    if obj is HistoryBuffer and (name in _HISTORY_BUFFER_METHODS or
                                 name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) while loading a checkpoint')


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types of mmengine's own checkpoints for
    ``torch.load(weights_only=True)``."""
    dtypes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]
    torch.serialization.add_safe_globals([
        HistoryBuffer, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
        np._core.multiarray.scalar, *dtypes,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
    ])


allow_mmengine_checkpoints()


@HOOKS.register_module()
class TrainingSummaryHook(Hook):
    """At the end of training: save ``curves.png`` (loss and validation
    metrics against epoch) in the run's log folder, write ``summary.json``
    and print the last metrics and where the checkpoint and plot are."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.last_metrics: Dict[str, float] = {}
        self.last_epoch = 0

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics:
            self.last_metrics = {k: float(v) for k, v in metrics.items()}
            self.last_epoch = runner.epoch

    def after_run(self, runner) -> None:
        if runner.rank != 0:
            return
        from .curves import plot_curves
        log_dir = runner.log_dir
        plot = None
        try:
            plot = plot_curves(log_dir, osp.join(log_dir, 'curves.png'))
        except (FileNotFoundError, ValueError) as e:
            print_log(f'no curves plotted: {e}', logger='current', level=30)
        ckpt = last_checkpoint(runner.work_dir)
        summary = dict(epoch=self.last_epoch, metrics=self.last_metrics,
                       checkpoint=ckpt, curves=plot, work_dir=runner.work_dir)
        with open(osp.join(runner.work_dir, 'summary.json'), 'w') as f:
            json.dump(summary, f, indent=2)
        lines = ['training finished']
        for k, v in self.last_metrics.items():
            lines.append(f'  {k}: {v:.2f} (val, epoch {self.last_epoch})')
        lines.append(f'  checkpoint: {ckpt}')
        lines.append(f'  curves:     {plot}')
        lines.append(f'  summary:    {osp.join(runner.work_dir, "summary.json")}')
        print_log('\n'.join(lines), logger='current')


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed torch, numpy and ``random`` from ``(seed, epoch)`` before
    each training epoch.

    mmengine checkpoints keep no RNG state, and evaluation after a
    checkpoint consumes random numbers, so a resumed run would otherwise
    draw different augmentations, Mixup/CutMix and drop-path masks than an
    uninterrupted one. With this hook each epoch's randomness depends only on
    the seed (which mmengine restores on resume) and the epoch.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        if runner.seed is None:
            return
        seed = (int(runner.seed) * 1_000_003 + runner.epoch) % 2**31
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's CheckpointHook saved last in ``work_dir``
    (its ``last_checkpoint`` file), or ``None``."""
    path = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(path):
        with open(path) as f:
            return f.read().strip() or None
    return None


def build_config(config: str, work_dir: Optional[str] = None,
                 resume: Optional[str] = None, amp: bool = False,
                 auto_scale_lr: bool = False,
                 cfg_options: Optional[dict] = None,
                 launcher: str = 'none') -> Config:
    """Load ``config`` and apply the command-line choices to it."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(config))[0])
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    wrapper = cfg.get('optim_wrapper', {})
    if amp:
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    if wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        print_log('AMP needs a GPU; training in fp32 on this CPU-only '
                  'machine', logger='current', level=30)
        wrapper['type'] = 'OptimWrapper'
        wrapper.pop('loss_scale', None)
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
    return cfg


def _init_cpu_process_group(cfg: Config) -> None:
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


def train(config: str, **kwargs):
    """Build the Runner from ``config`` (see :func:`build_config`) and
    train. Returns the runner."""
    from mmengine.runner import Runner
    cfg = build_config(config, **kwargs)
    _init_cpu_process_group(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test(config: str, checkpoint: str, work_dir: Optional[str] = None,
         cfg_options: Optional[dict] = None,
         launcher: str = 'none') -> Dict[str, float]:
    """Evaluate ``checkpoint`` on the config's test set; returns metrics."""
    from mmengine.runner import Runner
    cfg = build_config(config, work_dir=work_dir, cfg_options=cfg_options,
                       launcher=launcher)
    cfg.load_from = checkpoint
    cfg.resume = False
    _init_cpu_process_group(cfg)
    return Runner.from_cfg(cfg).test()

