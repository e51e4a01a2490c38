"""Loading a CvT checkpoint from any source into a model: the one path.

Every checkpoint this project takes goes the same way, whoever asks:

1. :func:`read_source`: where it comes from (file, Hugging Face folder,
   URL, repo id, zoo name; :mod:`.sources`), read without running pickled
   code (:mod:`.reading`);
2. :func:`~.formats.convert_cvt_state_dict`: either published layout to the
   model's keys (:mod:`.formats`);
3. :func:`load_state`: into the module, shapes checked, missing and
   unexpected keys reported (or refused with ``strict=True``).

Steps 1-2 are the mmengine checkpoint scheme registered here
(:func:`register_checkpoint_loaders`: the zoo names, ``hf://`` ids and
``cvt://<any source>``), so mmengine's ``load_from``, ``Runner`` and
``load_checkpoint``, and mmpretrain's, mmdet's and mmseg's own tools, read
CvT weights exactly as this project does; :func:`load_checkpoint` and
:func:`load_weights` go through that same scheme. A backbone's
``init_cfg=dict(type='Pretrained', checkpoint=...)`` reaches
:func:`load_weights` through the weight initialiser ``CvTPretrained``
registered here in mmengine's ``WEIGHT_INITIALIZERS`` (the model file
imports nothing above ``models/``).

:func:`load_state` is ours rather than mmengine's ``load_state_dict``:
with ``strict=False`` that one only warns about a shape mismatch (a CvT-13
checkpoint would half-load into a CvT-W24 with a warning), and it reports
missing and unexpected keys in one message without the source.
"""
import json
import logging
import os
import os.path as osp
import re
from collections import Counter, OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import Tensor, nn

from ..models import CvT
from .errors import CheckpointError
from .formats import CVT_BACKBONE, convert_cvt_state_dict, detect_format
from .reading import load_checkpoint_file, state_dict_of
from .sources import (
    HUB_URL,
    forget_hub_file,
    hub_config_file,
    parse_hub_source,
    resolve_checkpoint,
)
from .zoo import zoo_names

StateDict = Dict[str, Tensor]
CVT_SCHEME = 'cvt://'


# -- 1. reading ---------------------------------------------------------------
def read_source(source: str) -> Tuple[object, StateDict, str]:
    """The checkpoint object ``source`` names, its state dict, and a
    description of where it came from. A downloaded Hugging Face file that
    cannot be read is removed from the cache (the next attempt downloads it
    afresh)."""
    path = resolve_checkpoint(source)
    where = source if path == osp.expanduser(source) else \
        f'{source} ({path})'
    try:
        obj, path = load_checkpoint_file(path)
        return obj, state_dict_of(obj, path), where
    except CheckpointError as e:
        if path != osp.expanduser(source) and \
                parse_hub_source(source) is not None:
            forget_hub_file(path)
        raise CheckpointError(f'{source}: {e}') from e


def _mmengine_loader(filename: str, map_location=None) -> dict:
    """The registered scheme (``load_from``, ``tools/test.py``, every load
    here): any source, read safely; a CvT checkpoint in a published layout
    comes back converted to the model's keys, anything else as it is.
    ``meta`` keeps the checkpoint's own and adds ``source`` and
    ``source_format``."""
    source = filename[len(CVT_SCHEME):] if filename.startswith(CVT_SCHEME) \
        else filename
    obj, state_dict, where = read_source(source)
    meta = dict(obj.get('meta') or {}) if isinstance(obj, dict) else {}
    try:
        fmt = detect_format(state_dict)
    except CheckpointError:
        fmt = None
    if fmt is not None and fmt != CVT_BACKBONE:
        state_dict, fmt = convert_cvt_state_dict(state_dict)
        print_log(f'{where}: converted from the {fmt} layout',
                  logger='current', level=logging.INFO)
    if map_location not in (None, 'cpu'):
        state_dict = {k: v.to(map_location) for k, v in state_dict.items()}
    meta.update(source=where, source_format=fmt)
    return dict(state_dict=state_dict, meta=meta)


def register_checkpoint_loaders() -> None:
    """Register the zoo names (with an optional ``@revision``), ``hf://``,
    ``cvt://`` and the published repos' file URLs
    (``https://huggingface.co/microsoft/cvt-...``: the model index's
    weights) as mmengine checkpoint schemes. Idempotent.

    mmengine tries its schemes in reverse lexical order, so the Hub URL
    prefix is tried before its own ``https://``; only the published CvT
    repos are taken over, every other URL stays mmengine's."""
    from mmengine.runner import CheckpointLoader
    names = '|'.join(re.escape(n) for n in zoo_names())
    published = re.escape(HUB_URL + 'microsoft/cvt-')
    prefixes = ['hf://', CVT_SCHEME, f'(?i:{names})(?:@[^/]+)?$',
                published]
    CheckpointLoader.register_scheme(prefixes=prefixes,
                                     loader=_mmengine_loader, force=True)


def as_checkpoint_scheme(source: str) -> str:
    """``source`` as mmengine's ``CheckpointLoader`` should get it so that
    it goes through the registered loader (any source, converted)."""
    source = os.fspath(source)
    if source.startswith((CVT_SCHEME, 'hf://')):
        return source
    return CVT_SCHEME + source


# -- 2. converting ------------------------------------------------------------
def load_checkpoint(source: str, prefix: Optional[str] = None
                    ) -> Tuple[StateDict, str, str]:
    """Read ``source`` through the registered scheme and convert it to the
    model layout (``backbone.*``, ``head.fc.*``).

    ``prefix`` first selects a sub-tree (e.g. ``'teacher.'``) with
    mmengine's ``_load_checkpoint_with_prefix``. Returns the state dict,
    the detected format and a description of the source; a checkpoint in
    no CvT layout raises :class:`CheckpointError`.
    """
    state_dict, fmt, meta = _load_converted(source, prefix)
    return state_dict, fmt, meta['source']


def _load_converted(source: str, prefix: Optional[str]
                    ) -> Tuple[StateDict, str, dict]:
    """:func:`load_checkpoint`, with the checkpoint's ``meta`` (and its
    ``source`` description) instead of the description alone."""
    from mmengine.runner import CheckpointLoader
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
    scheme = as_checkpoint_scheme(source)
    if prefix:
        try:
            state_dict = _load_checkpoint_with_prefix(prefix, scheme,
                                                      map_location='cpu')
        except AssertionError as e:
            raise CheckpointError(
                f'{source}: no key starts with prefix {prefix!r} ({e})'
            ) from e
        meta = dict(source=source)
    else:
        ckpt = CheckpointLoader.load_checkpoint(scheme, map_location='cpu',
                                                logger='silent')
        state_dict, meta = ckpt['state_dict'], ckpt['meta']
    state_dict, fmt = convert_cvt_state_dict(state_dict)
    # the scheme already converted a published layout: it knows which
    return state_dict, meta.get('source_format') or fmt, meta


def convert_checkpoint(source: str, dst: str) -> Tuple[str, StateDict]:
    """Convert the checkpoint ``source`` names and save it to ``dst`` as
    ``{'state_dict': ..., 'meta': ...}`` (``load_from`` for the classifier
    and ``init_cfg`` checkpoint for any CvT backbone). Returns the detected
    format and the converted state dict."""
    state_dict, fmt, where = load_checkpoint(source)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(converted_from=where, source_format=fmt)), dst)
    return fmt, state_dict


def class_names(source: str) -> Optional[List[str]]:
    """The class names that come with the weights: ``id2label`` of the
    Hugging Face ``config.json`` beside them (a model folder, or the repo
    for a hub id or zoo name), else ``None``."""
    path = osp.expanduser(source)
    config = None
    if osp.isdir(path):
        config = osp.join(path, 'config.json')
    elif osp.isfile(path):
        config = osp.join(osp.dirname(path), 'config.json')
    else:
        hub = parse_hub_source(source)
        if hub is not None:
            config = hub_config_file(*hub)
    if not config or not osp.isfile(config):
        return None
    with open(config) as f:
        labels = json.load(f).get('id2label')
    if not labels:
        return None
    return [labels[str(i)] for i in range(len(labels))]


# -- 3. loading into a module -------------------------------------------------
def load_state(module: nn.Module, state_dict: Mapping[str, Tensor],
               source: str, strict: bool = False,
               model_name: str = 'the model') -> None:
    """``module.load_state_dict`` that refuses shape mismatches with a
    message naming the keys, and logs missing and unexpected keys; with
    ``strict=True`` those refuse the checkpoint too (``num_batches_tracked``
    counters excepted, as mmengine does). ``model_name`` names the model
    in that message (e.g. ``'the model of configs/x.py'``)."""
    own = module.state_dict()
    bad = [f'size mismatch for {k}: checkpoint {tuple(v.shape)} vs model '
           f'{tuple(own[k].shape)}' for k, v in state_dict.items()
           if k in own and own[k].shape != v.shape]
    shapes = (f'shape mismatch for {len(bad)} key(s): ' + '; '.join(bad[:10])
              if bad else '')
    missing = [k for k in own if k not in state_dict
               and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (bad or missing or unexpected):
        detail = '; '.join(filter(None, [
            shapes,
            f'missing keys: {missing[:20]}' if missing else '',
            f'unexpected keys: {unexpected[:20]}' if unexpected else '']))
        raise CheckpointError(
            f'checkpoint {source} does not match {model_name} (keys or shapes '
            'differ: weights of another architecture, task or number of '
            f'classes): {detail}')
    if bad:
        raise CheckpointError(f'{source}: {shapes}')
    module.load_state_dict(state_dict, strict=False)
    print_log(f'loaded {len(state_dict) - len(unexpected)} tensors from '
              f'{source}', logger='current')
    missing = [k for k in own if k not in state_dict]
    if missing:
        print_log(f'missing keys (left at their initialisation): {missing}',
                  logger='current', level=logging.WARNING)
    if unexpected:
        print_log(f'unexpected keys (ignored): {unexpected}',
                  logger='current', level=logging.WARNING)


def _backbone_part(backbone: CvT, state_dict: StateDict, source: str
                   ) -> StateDict:
    """The ``backbone.`` keys, bare. Keys outside the backbone (classifier
    head, detector neck...) and the classifier's final norm, when the
    backbone has none (dense outputs), are left out and reported by
    group."""
    skipped = Counter(k.split('.')[0] for k in state_dict
                      if not k.startswith('backbone.'))
    part = OrderedDict((k[len('backbone.'):], v)
                       for k, v in state_dict.items()
                       if k.startswith('backbone.'))
    if not part:
        raise CheckpointError(f'{source}: no CvT backbone weights found '
                              f'(keys look like {list(state_dict)[:5]})')
    if backbone.cls_norm is None:  # a dense backbone has no final norm
        for k in [k for k in part if k.startswith('cls_norm.')]:
            del part[k]
            skipped['cls_norm'] += 1
    if skipped:
        print_log(f'{source}: tensors this backbone does not use, not '
                  f'loaded: {dict(skipped)}', logger='current')
    return part


def load_weights(model: nn.Module, source: str, *,
                 prefix: Optional[str] = None, strict: bool = False,
                 model_name: str = 'the model') -> dict:
    """Load the checkpoint ``source`` (any source, any CvT layout) into
    ``model``: a bare :class:`CvT` takes the backbone part of it (see
    :func:`_backbone_part`), any other model (an mmpretrain classifier,
    mmdet detector, mmseg segmenter with a CvT) the whole state dict.
    Returns the checkpoint's ``meta`` (``dataset_meta`` when mmengine saved
    it; ``source``: where it came from)."""
    state_dict, fmt, meta = _load_converted(source, prefix)
    described = f'{meta["source"]} ({fmt} format)'
    if isinstance(model, CvT):
        state_dict = _backbone_part(model, state_dict, described)
    load_state(model, state_dict, described, strict=strict,
               model_name=model_name)
    return meta


@WEIGHT_INITIALIZERS.register_module(name='CvTPretrained')
class CvTPretrainedInit:
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=None)`` of
    a :class:`CvT` (which it runs as ``'CvTPretrained'``): its checkpoint
    may be any source in any CvT layout (:func:`load_weights`)."""

    def __init__(self, checkpoint: str, prefix: Optional[str] = None,
                 map_location: str = 'cpu') -> None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError('init_cfg checkpoint must be a path, URL, repo '
                            f'id or model name, got {checkpoint!r}')
        self.checkpoint = os.fspath(checkpoint)
        self.prefix = prefix

    def __call__(self, module: nn.Module) -> None:
        load_weights(module, self.checkpoint, prefix=self.prefix)

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint}'
