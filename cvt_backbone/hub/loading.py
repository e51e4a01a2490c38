"""Loading a CvT checkpoint from any source (file, folder, URL, Hugging Face
repo, model-zoo name) into this project's models.

* :func:`load_checkpoint`: source -> state dict in the model layout
  (``backbone.*``, ``head.fc.*``), read safely and converted from whichever
  published format it is in;
* :func:`load_pretrained`: into a CvT backbone (``init_cfg=dict(
  type='Pretrained', checkpoint=...)`` calls it);
* :func:`convert_checkpoint`: source -> a converted ``.pth`` file;
* :func:`register_checkpoint_loaders`: teaches mmengine's
  ``CheckpointLoader`` (what ``load_from`` and ``tools/test.py`` use, in
  mmpretrain's, mmdet's and mmseg's own tools too) the zoo names,
  ``hf://`` ids and an explicit ``cvt://<any source>``.
"""
import logging
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..models.backbones.cvt import (
    CVT_BACKBONE,
    CheckpointError,
    convert_cvt_state_dict,
    detect_format,
)
from ..utils.checkpoint import (
    load_checkpoint_file,
    load_into,
    state_dict_of,
    strip_prefix,
)
from .sources import (
    forget_hub_file,
    hub_config_file,
    parse_hub_source,
    resolve_checkpoint,
)
from .zoo import zoo_names

StateDict = Dict[str, Tensor]
CVT_SCHEME = 'cvt://'


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


def load_checkpoint(source: str, prefix: Optional[str] = None
                    ) -> Tuple[StateDict, str, str]:
    """Read ``source`` and convert it to the model layout.

    ``prefix`` selects a sub-tree first (e.g. ``'teacher.'``). Returns the
    state dict, the detected format and a description of the source.
    """
    _, state_dict, where = read_source(source)
    if prefix:
        state_dict = strip_prefix(state_dict, prefix)
    state_dict, fmt = convert_cvt_state_dict(state_dict)
    return state_dict, fmt, where


def load_pretrained(backbone: nn.Module, source: str,
                    prefix: Optional[str] = None) -> None:
    """Load CvT backbone weights from any source and known layout.

    ``module.`` and ``backbone.`` prefixes are handled. Keys outside the
    backbone (classifier head, detector neck...) and the classifier's final
    norm, when the backbone has none (dense outputs), are not loaded and are
    reported by group.
    """
    state_dict, fmt, where = load_checkpoint(source, prefix)
    described = f'{where} ({fmt} format)'
    skipped = Counter(k.split('.')[0] for k in state_dict
                      if not k.startswith('backbone.'))
    try:
        loaded = strip_prefix(state_dict, 'backbone.')
    except CheckpointError as e:
        raise CheckpointError(f'{described}: no CvT backbone weights found') \
            from e
    if getattr(backbone, 'cls_norm', None) is None:
        # the classifier's final norm: a dense backbone has none
        for k in [k for k in loaded if k.startswith('cls_norm.')]:
            del loaded[k]
            skipped['cls_norm'] += 1
    if skipped:
        print_log(f'{described}: tensors this backbone does not use, not '
                  f'loaded: {dict(skipped)}', logger='current')
    load_into(backbone, loaded, described)


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
    import json
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


# -- mmengine's CheckpointLoader -------------------------------------------
def _mmengine_loader(filename: str, map_location=None) -> dict:
    """``load_from`` / ``tools/test.py`` checkpoint: any source, read safely;
    a CvT checkpoint in a published layout comes back converted to the
    model's keys, anything else as it is."""
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
    meta.setdefault('source', where)
    return dict(state_dict=state_dict, meta=meta)


def register_checkpoint_loaders() -> None:
    """Register the zoo names (with an optional ``@revision``), ``hf://``
    and ``cvt://`` as mmengine checkpoint schemes. Idempotent."""
    from mmengine.runner import CheckpointLoader
    names = '|'.join(re.escape(n) for n in zoo_names())
    prefixes = ['hf://', CVT_SCHEME, f'(?i:{names})(?:@[^/]+)?$']
    CheckpointLoader.register_scheme(prefixes=prefixes,
                                     loader=_mmengine_loader, force=True)


def as_checkpoint_scheme(source: str) -> str:
    """``source`` as mmengine's ``CheckpointLoader`` should get it so that
    it goes through :func:`_mmengine_loader` (any source, converted)."""
    if source.startswith((CVT_SCHEME, 'hf://')):
        return source
    return CVT_SCHEME + source
