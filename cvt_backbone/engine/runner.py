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
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.dist import is_main_process, master_only
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..checkpoint import CheckpointError, as_checkpoint_scheme
from ..checkpoint.training_state import (
    checkpoint_problem,
    resume_candidates,
    stale_temp_files,
    write_atomically,
)
from .data_faults import apply_bad_image_policy


def build_config(config: str, work_dir: Optional[str] = None,
                 resume: Optional[str] = None,
                 load_from: Optional[str] = None, amp: bool = False,
                 auto_scale_lr: bool = False,
                 cfg_options: Optional[dict] = None,
                 launcher: str = 'none') -> Config:
    """Load ``config`` and apply the command-line choices to it.

    ``resume='auto'`` continues from the latest checkpoint of the work dir
    (a fresh start, keeping ``load_from``, when it has none), another
    string from that checkpoint. ``load_from`` (or the config's)
    may be any checkpoint source in any CvT layout. Unreadable images are
    skipped and reported as the config's ``bad_images`` says
    (:func:`~cvt_backbone.engine.data_faults.apply_bad_image_policy`); a
    non-finite loss stops the run (``NonFiniteLossHook``, added unless the
    config has it).
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
    if resume == 'auto' and not resume_candidates(cfg.work_dir):
        # --resume with nothing to resume from (what tools/dist_train.sh
        # passes to every start, so that a restarted group continues): a
        # fresh start that keeps the config's load_from (fine-tuning from
        # a published model), which mmengine's auto-resume would drop
        print_log(f'--resume: no checkpoint in {cfg.work_dir} yet, so the '
                  'run starts from the beginning', logger='current')
        resume = None
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
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type')).endswith('NonFiniteLossHook')
               for h in hooks):
        # a NaN/inf loss stops the run naming the iteration and the
        # checkpoint to go back to; AMP's skipped steps are reported
        hooks.append(dict(type='NonFiniteLossHook'))
    cfg.custom_hooks = hooks
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


@RUNNERS.register_module()
class ResilientRunner(Runner):
    """mmengine's ``Runner`` with checkpoints that survive faults.

    * Saves are atomic (:func:`~cvt_backbone.checkpoint.training_state.
      write_atomically`): a process killed mid-save leaves the previous
      checkpoints and a hidden temporary file, never a cut file under a
      checkpoint's name. The temporary files of such a kill are removed
      (and named) when the next run starts.
    * ``resume=True`` without a file (``--resume``) takes the newest
      checkpoint of the work dir that reads whole: each broken one is named
      with its fault in a warning and the next newest tried; when every
      one is broken the run stops with a :class:`CheckpointError` listing
      them (it never trains from scratch over them). With no checkpoint at
      all the run starts from the beginning, as mmengine's does.
    * An explicit ``--resume FILE`` that is missing or broken is a
      :class:`CheckpointError` naming the file and the fault.

    mmengine writes checkpoints in place and resumes blindly from the
    newest (``find_latest_checkpoint``), which is why this subclass exists;
    checkpoints on remote back-ends (``backend_args``, ``s3://``...) are
    saved and resumed as mmengine does.
    """

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args=None, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta=None,
                        by_epoch: bool = True, backend_args=None):
        if file_client_args is not None or backend_args is not None or \
                '://' in str(out_dir):
            return super().save_checkpoint(
                out_dir, filename, file_client_args, save_optimizer,
                save_param_scheduler, meta, by_epoch, backend_args)
        with write_atomically(osp.join(out_dir, filename)) as tmp:
            super().save_checkpoint(
                out_dir, osp.basename(tmp), save_optimizer=save_optimizer,
                save_param_scheduler=save_param_scheduler, meta=meta,
                by_epoch=by_epoch)

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return
        if is_main_process():
            for tmp in stale_temp_files(self.work_dir):
                self.logger.warning(
                    f'removing {tmp}: a checkpoint whose save was '
                    'interrupted (the process was killed while writing it)')
                os.remove(tmp)
        if not self._resume:
            return super().load_or_resume()
        if self._load_from is not None:
            source = str(self._load_from)
            if '://' not in source:
                problem = checkpoint_problem(source)
                if problem is not None:
                    raise CheckpointError(
                        f'cannot resume from {source}: {problem}. Pass '
                        'another checkpoint, or --resume without a file to '
                        'take the newest readable one of the work dir')
            self.resume(source)
        else:
            path = self._newest_readable_checkpoint()
            if path is None:
                self.logger.info(
                    f'no checkpoint in {self.work_dir} to resume from: '
                    'training starts from the beginning')
                return
            self.logger.info(f'Auto resumed from the latest checkpoint '
                             f'{path}.')
            self.resume(path)
        self._has_loaded = True

    def _newest_readable_checkpoint(self) -> Optional[str]:
        broken = []
        for path in resume_candidates(self.work_dir):
            problem = checkpoint_problem(path)
            if problem is None:
                if broken:
                    self.logger.warning(
                        f'resuming from {path}, the newest readable '
                        f'checkpoint, instead of the {len(broken)} newer '
                        'broken one(s) named above (their epochs are '
                        'trained again)')
                return path
            broken.append(f'{path} ({problem})')
            self.logger.warning(f'checkpoint {path} cannot be resumed from: '
                                f'{problem}; trying the next newest')
        if broken:
            raise CheckpointError(
                f'no checkpoint of {self.work_dir} can be resumed from: '
                + '; '.join(broken) + '. The run does not start over from '
                'scratch on its own: repair or remove them, pass --resume '
                'FILE, or use a new work dir')
        return None


def build_runner(cfg: Config):
    """The runner for ``cfg``: :class:`ResilientRunner` unless the config
    names a ``runner_type``; after the CPU process group when one is
    needed."""
    init_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return ResilientRunner.from_cfg(cfg)
