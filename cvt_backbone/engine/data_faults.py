"""The config side of skipping unreadable images (``bad_images``).

:func:`apply_bad_image_policy` (called by :func:`~cvt_backbone.engine.
build_config`, so by ``tools/train.py`` and ``tools/test.py``) rewrites
every dataloader of a config, mmpretrain's, mmdet's or mmseg's alike:

* each ``LoadImageFromFile`` of a pipeline (also inside dataset wrappers
  and nested transform lists) becomes ``LoadImageOrSkip`` with the same
  arguments, and it and ``DecodeRandomResizedCrop`` get the run's limit,
  the phase and the report folder ``<work_dir>/bad_images``;
* the validation and test datasets are wrapped in ``SkipUnreadable``,
  their ``collate_fn`` in ``collate_readable`` and their loops become
  ``SkippingValLoop`` / ``SkippingTestLoop``, so an unreadable image is
  left out of the metrics instead of failing (test mode) or being replaced;
* ``BadImageHook`` reports each epoch's count.

The config key ``bad_images = dict(max_fraction=0.01, min_count=50)`` sets
the limit (those are the defaults, when the key is absent);
``max_fraction=None`` keeps skipping without a limit; ``bad_images = None``
turns skipping off, and an unreadable image then stops the run with an
``UnreadableImageError`` naming it.
"""
import copy
import logging
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log

from ..datasets.bad_images import DEFAULT_MAX_FRACTION, DEFAULT_MIN_COUNT

_LOADERS = ('LoadImageFromFile', 'LoadImageOrSkip')
_SKIPPING = _LOADERS + ('DecodeRandomResizedCrop', )
_PHASES = (('train_dataloader', 'train', None),
           ('val_dataloader', 'val', ('val_cfg', 'ValLoop',
                                      'SkippingValLoop')),
           ('test_dataloader', 'test', ('test_cfg', 'TestLoop',
                                        'SkippingTestLoop')))


def _bare(type_) -> str:
    return type_.rsplit('.', 1)[-1] if isinstance(type_, str) else ''


def _rewrite_pipeline(pipeline, skip: dict) -> int:
    """Rewrite the loading steps of ``pipeline`` in place; how many."""
    n = 0
    for step in pipeline or []:
        if not isinstance(step, dict):
            continue
        bare = _bare(step.get('type'))
        if bare in _LOADERS:
            step['type'] = 'LoadImageOrSkip'
        if bare in _SKIPPING:
            step.update(skip)
            n += 1
        for key in ('transforms', 'pipeline'):  # RandomChoice, TTA, ...
            nested = step.get(key)
            if isinstance(nested, list):
                lists = nested if nested and isinstance(nested[0], list) \
                    else [nested]
                n += sum(_rewrite_pipeline(p, skip) for p in lists)
    return n


def _rewrite_dataset(dataset, skip: dict) -> int:
    if not isinstance(dataset, dict):
        return 0
    n = _rewrite_pipeline(dataset.get('pipeline'), skip)
    n += _rewrite_dataset(dataset.get('dataset'), skip)
    for sub in dataset.get('datasets') or []:
        n += _rewrite_dataset(sub, skip)
    return n


def apply_bad_image_policy(cfg: Config) -> None:
    """See the module docstring; ``cfg.work_dir`` must be set."""
    if 'bad_images' in cfg and cfg.bad_images is None:
        print_log('bad_images=None: an unreadable image stops the run',
                  logger='current', level=logging.INFO)
        skip_args = dict(skip_unreadable=False)
        for key, _, _ in _PHASES:
            if cfg.get(key):
                _rewrite_dataset(cfg[key].get('dataset'), skip_args)
        return
    policy = dict(max_fraction=DEFAULT_MAX_FRACTION,
                  min_count=DEFAULT_MIN_COUNT)
    policy.update(cfg.get('bad_images') or {})
    unknown = set(policy) - {'max_fraction', 'min_count'}
    if unknown:
        raise ValueError(f'bad_images takes max_fraction and min_count; got '
                         f'{sorted(unknown)}')
    folder = osp.join(cfg.work_dir, 'bad_images')
    for key, phase, loop in _PHASES:
        if not cfg.get(key):
            continue
        cfg[key] = copy.deepcopy(cfg[key])  # val and test may share one
        loader = cfg[key]
        skip = dict(skip_unreadable=True, phase=phase, bad_image_dir=folder,
                    **policy)
        if not _rewrite_dataset(loader.get('dataset'), skip):
            continue  # no image files read (e.g. CIFAR's arrays)
        if loop is None:
            continue
        loop_key, default_loop, ours = loop
        loop_cfg = cfg.get(loop_key)
        if loop_cfg is None:
            continue  # mmengine builds no such loop
        collate = dict(loader.get('collate_fn') or dict(type='pseudo_collate'))
        if _bare(loop_cfg.get('type', default_loop)) not in (default_loop,
                                                               ours) or \
                set(collate) - {'type'}:
            print_log(f'{key}: its loop or collate_fn is not mmengine\'s '
                      'own, so an unreadable image there is not left out '
                      '(it stops the run, naming the file)',
                      logger='current', level=logging.WARNING)
            continue
        loop_cfg['type'] = ours
        if _bare(loader.dataset.get('type')) != 'SkipUnreadable':
            loader['dataset'] = dict(type='SkipUnreadable',
                                     dataset=loader['dataset'])
        if _bare(collate['type']) != 'collate_readable':
            loader['collate_fn'] = dict(type='collate_readable',
                                        collate=collate['type'])
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(_bare(h.get('type')) == 'BadImageHook' for h in hooks):
        hooks.append(dict(type='BadImageHook', bad_image_dir=folder,
                          **policy))
    cfg.custom_hooks = hooks
