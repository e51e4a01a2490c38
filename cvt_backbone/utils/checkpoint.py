"""Reading checkpoints safely and loading them into a CvT.

mmengine's ``CheckpointLoader`` reads ``.pth`` files only, with whatever
``torch.load`` defaults to, and reports a refused pickle with torch's raw
error. This reader adds what the published CvT weights need: Hugging Face
``.safetensors``/``.bin`` files and model folders, an explicit
``weights_only=True`` (a pickle that would run code is refused with an error
that says so, never executed), and errors that name the file and what was
expected. The key conversion itself is beside the model
(:func:`cvt_backbone.models.backbones.cvt.convert_cvt_state_dict`).
"""
import logging
import os
import pickle
import zipfile
from collections import Counter, OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..models.backbones.cvt import CheckpointError, convert_cvt_state_dict

StateDict = Dict[str, Tensor]
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


def read_checkpoint(path: str) -> StateDict:
    """Read a state dict from a ``.pth``/``.bin``/``.safetensors`` file or a
    Hugging Face model folder, without executing pickled code.

    Wrappers ``{'state_dict': ...}`` and ``{'model': ...}`` are unwrapped.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        found = [os.path.join(path, f) for f in HF_WEIGHT_FILES
                 if os.path.isfile(os.path.join(path, f))]
        if not found:
            raise FileNotFoundError(
                f'{path} is a folder without model weights; expected one of '
                f'{list(HF_WEIGHT_FILES)} (a Hugging Face model folder)')
        path = found[0]
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')

    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
            obj = load_file(path, device='cpu')
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f'{path} is not a readable safetensors file '
                                  f'(truncated or corrupt?): {e}') from e
    else:
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f'refused to load {path}: it holds pickled Python objects '
                'beyond tensors and plain containers, which could run code '
                'when loaded. Only weights are accepted (torch.load with '
                f'weights_only=True). Details: {str(e).splitlines()[0]}'
            ) from e
        except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as e:
            raise CheckpointError(f'{path} is not a readable PyTorch '
                                  f'checkpoint (truncated or corrupt?): {e}'
                                  ) from e
    return _unwrap(obj, path)


def _unwrap(obj, path: str) -> StateDict:
    if isinstance(obj, Mapping):
        for key in ('state_dict', 'model'):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f'{path} holds no state dict (got '
                              f'{type(obj).__name__})')
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(f'{path}: entries that are not tensors: '
                              f'{bad[:5]}')
    return OrderedDict(obj)


def strip_prefix(state_dict: Mapping[str, Tensor], prefix: str) -> StateDict:
    """Keep the keys under ``prefix`` (after an all-keys ``module.``), with
    the prefix removed."""
    if state_dict and all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    if not out:
        raise CheckpointError(f'no key starts with prefix {prefix!r}; keys '
                              f'look like {list(state_dict)[:5]}')
    return out


def convert_checkpoint(src: str, dst: str) -> Tuple[str, StateDict]:
    """Convert a checkpoint file/folder ``src`` and save it to ``dst`` as
    ``{'state_dict': ..., 'meta': ...}`` (loadable by the classifier with
    ``load_from`` and, through ``init_cfg``, by the backbone). Returns the
    detected format and the converted state dict."""
    state_dict, fmt = convert_cvt_state_dict(read_checkpoint(src))
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(converted_from=os.path.basename(src),
                              source_format=fmt)), dst)
    return fmt, state_dict


def load_into(module: nn.Module, state_dict: Mapping[str, Tensor],
              source: str) -> None:
    """``load_state_dict(strict=False)`` that refuses shape mismatches with a
    message naming the keys, and logs missing and unexpected keys."""
    own = module.state_dict()
    bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
           for k, v in state_dict.items()
           if k in own and own[k].shape != v.shape]
    if bad:
        raise CheckpointError(f'{source}: shape mismatch for '
                              f'{len(bad)} key(s): ' + '; '.join(bad[:10]))
    missing, unexpected = module.load_state_dict(state_dict, strict=False)
    print_log(f'loaded {len(state_dict) - len(unexpected)} tensors from '
              f'{source}', logger='current')
    if missing:
        print_log(f'missing keys (left at their initialisation): {missing}',
                  logger='current', level=logging.WARNING)
    if unexpected:
        print_log(f'unexpected keys (ignored): {unexpected}',
                  logger='current', level=logging.WARNING)


def load_pretrained(backbone: nn.Module, path: str,
                    prefix: Optional[str] = None) -> None:
    """Load CvT backbone weights from any known checkpoint layout.

    ``prefix`` selects a sub-tree first (e.g. ``'backbone.'``); otherwise the
    ``module.`` and ``backbone.`` prefixes are handled automatically. Keys
    outside the backbone (classifier head, detector neck...) and the
    classifier's final norm, when the backbone has none (dense outputs), are
    not loaded and are reported by group.
    """
    state_dict = read_checkpoint(path)
    if prefix:
        state_dict = strip_prefix(state_dict, prefix)
    state_dict, fmt = convert_cvt_state_dict(state_dict)
    source = f'{path} ({fmt} format)'
    skipped = Counter(k.split('.')[0] for k in state_dict
                      if not k.startswith('backbone.'))
    try:
        loaded = strip_prefix(state_dict, 'backbone.')
    except CheckpointError as e:
        raise CheckpointError(f'{source}: no CvT backbone weights found') \
            from e
    if not hasattr(backbone, 'cls_norm') or backbone.cls_norm is None:
        # the classifier's final norm: a dense backbone has none
        for k in [k for k in loaded if k.startswith('cls_norm.')]:
            del loaded[k]
            skipped['cls_norm'] += 1
    if skipped:
        print_log(f'{source}: tensors this backbone does not use, not '
                  f'loaded: {dict(skipped)}', logger='current')
    load_into(backbone, loaded, source)
