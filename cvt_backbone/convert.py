"""Reading and converting published CvT weights (the one place for it).

Three key layouts are understood and detected automatically:

* ``original``: the microsoft/CvT release (``CvT-13-224x224-IN-1k.pth``):
  ``stage{i}.blocks.{j}.attn.conv_proj_q.conv.weight``, ``proj_q``,
  ``mlp.fc1``, ``norm``, ``head``;
* ``huggingface``: ``microsoft/cvt-*`` (``CvtModel`` or
  ``CvtForImageClassification``, ``.bin``/``.safetensors`` or a model folder):
  ``[cvt.]encoder.stages.{i}.layers.{j}...``, ``layernorm``, ``classifier``;
* ``cvt_backbone``: this project's keys, bare (``stages.*``) or under a
  model prefix (``backbone.stages.*``, ``head.*``, ``neck.*``...).

Everything converts to this project's *model layout*: the backbone under
``backbone.``, the classifier's final LayerNorm and Linear under
``head.norm.`` and ``head.fc.``. Third-party files are read with
``torch.load(weights_only=True)`` or safetensors: a pickle that would run
code is refused, never executed.
"""
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

StateDict = Dict[str, Tensor]

ORIGINAL = 'original'
HUGGINGFACE = 'huggingface'
CVT_BACKBONE = 'cvt_backbone'

HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


# -- reading ---------------------------------------------------------------
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


def strip_prefix(state_dict: StateDict, prefix: str) -> StateDict:
    """Keep the keys under ``prefix`` with the prefix removed."""
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    if not out:
        raise CheckpointError(f'no key starts with prefix {prefix!r}; keys '
                              f'look like {list(state_dict)[:5]}')
    return out


def _strip_module(state_dict: StateDict) -> StateDict:
    if all(k.startswith('module.') for k in state_dict):
        return strip_prefix(state_dict, 'module.')
    return state_dict


# -- format detection ---------------------------------------------------------
def detect_format(state_dict: Mapping[str, Tensor]) -> str:
    """``'original'``, ``'huggingface'`` or ``'cvt_backbone'``."""
    keys = list(state_dict)
    if any(re.match(r'(cvt\.)?encoder\.stages\.\d', k) for k in keys):
        return HUGGINGFACE
    if any(re.match(r'stage\d\.', k) for k in keys):
        return ORIGINAL
    if any(re.match(r'(.*\.)?stages\.\d\.(patch_embed|blocks)\.', k)
           for k in keys):
        return CVT_BACKBONE
    raise CheckpointError(
        'not a CvT checkpoint in any known layout (original microsoft/CvT, '
        f'Hugging Face microsoft/cvt-*, or cvt_backbone); keys look like '
        f'{keys[:5]}')


# -- Hugging Face -> original ------------------------------------------------
_HF_RULES: List[Tuple[str, str]] = [
    (r'encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.projection\.',
     r'stage\1.patch_embed.proj.'),
    (r'encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.'
     r'normalization\.', r'stage\1.patch_embed.norm.'),
    (r'encoder\.stages\.(\d+)\.cls_token$', r'stage\1.cls_token'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(q)uery\.convolution_projection\.convolution\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.conv.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(k)ey\.convolution_projection\.convolution\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.conv.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(v)alue\.convolution_projection\.convolution\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.conv.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(q)uery\.convolution_projection\.normalization\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.bn.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(k)ey\.convolution_projection\.normalization\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.bn.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(v)alue\.convolution_projection\.normalization\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.bn.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'projection_(q)uery\.', r'stage\1.blocks.\2.attn.proj_\3.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'projection_(k)ey\.', r'stage\1.blocks.\2.attn.proj_\3.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'projection_(v)alue\.', r'stage\1.blocks.\2.attn.proj_\3.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.output\.dense\.',
     r'stage\1.blocks.\2.attn.proj.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.intermediate\.dense\.',
     r'stage\1.blocks.\2.mlp.fc1.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.output\.dense\.',
     r'stage\1.blocks.\2.mlp.fc2.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_before\.',
     r'stage\1.blocks.\2.norm1.'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_after\.',
     r'stage\1.blocks.\2.norm2.'),
    (r'layernorm\.', 'norm.'),
    (r'classifier\.', 'head.'),
]
_HF_RULES_C = [(re.compile(p), r) for p, r in _HF_RULES]


def hf_to_original(state_dict: StateDict) -> StateDict:
    """Hugging Face ``microsoft/cvt-*`` keys -> original release keys."""
    out = OrderedDict()
    for key, value in state_dict.items():
        name = key[len('cvt.'):] if key.startswith('cvt.') else key
        for pattern, repl in _HF_RULES_C:
            m = pattern.match(name)
            if m:
                name = m.expand(repl) + name[m.end():]
                break
        else:  # unknown: kept in its stage so loading reports it
            name = re.sub(r'^encoder\.stages\.(\d+)\.', r'stage\1.', name)
        out[name] = value
    return out


# -- original -> cvt_backbone ---------------------------------------------------
def _interleave(k: Tensor, v: Tensor) -> Tensor:
    """k, v ``[C, ...]`` -> ``[2C, ...]`` with k at even, v at odd rows (the
    channel order of the fused grouped k/v conv)."""
    return torch.stack([k, v], dim=1).flatten(0, 1)


_ATTN_KV = re.compile(
    r'(stage\d+\.blocks\.\d+\.attn\.)(conv_proj_[kv]\.(conv|bn)|proj_[kv])\.'
    r'(.+)')


def original_to_cvt_backbone(state_dict: StateDict) -> StateDict:
    """Original release keys -> this project's model layout."""
    out = OrderedDict()
    pending: Dict[str, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        m = _ATTN_KV.match(key)
        if m:  # k and v are merged once both halves are seen
            prefix, part, kind, leaf = m.group(1), m.group(2), m.group(3), \
                m.group(4)
            which = 'k' if '_k' in part else 'v'
            fused = ('conv_kv.' + kind if kind else 'kv') + '.' + leaf
            pending.setdefault(prefix + fused, {})[which] = value
            continue
        out[_rename_original(key)] = value
    for key, kv in pending.items():
        if set(kv) != {'k', 'v'}:
            raise CheckpointError(f'{key}: only the {set(kv)} half of the '
                                  'key/value pair is in the checkpoint')
        k, v = kv['k'], kv['v']
        if key.endswith('num_batches_tracked'):
            merged = k
        elif key.endswith('.kv.weight') or key.endswith('.kv.bias'):
            merged = torch.stack([k, v])
        else:
            merged = _interleave(k, v)
        out[_rename_original(key)] = merged
    return out


def _rename_original(key: str) -> str:
    m = re.match(r'stage(\d+)\.(.*)', key)
    if m:
        rest = m.group(2).replace('attn.conv_proj_q.', 'attn.conv_q.') \
                         .replace('attn.proj_q.', 'attn.q.')
        return f'backbone.stages.{m.group(1)}.{rest}'
    if key.startswith('norm.'):
        return 'head.norm.' + key[len('norm.'):]
    if key.startswith('head.'):
        return 'head.fc.' + key[len('head.'):]
    return key


def _normalise_own(state_dict: StateDict) -> StateDict:
    """Bare backbone keys (``stages.*``, ``norm0``...) get ``backbone.``."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if re.match(r'(stages\.\d|norm\d\.)', key):
            key = 'backbone.' + key
        out[key] = value
    return out


def convert_state_dict(state_dict: StateDict) -> Tuple[StateDict, str]:
    """Any known CvT layout -> this project's model layout, and the format
    that was detected."""
    state_dict = _strip_module(OrderedDict(state_dict))
    fmt = detect_format(state_dict)
    if fmt == HUGGINGFACE:
        state_dict = original_to_cvt_backbone(hf_to_original(state_dict))
    elif fmt == ORIGINAL:
        state_dict = original_to_cvt_backbone(state_dict)
    else:
        state_dict = _normalise_own(state_dict)
    return state_dict, fmt


def convert_checkpoint(src: str, dst: str) -> Tuple[str, StateDict]:
    """Convert a checkpoint file/folder ``src`` and save it to ``dst`` as
    ``{'state_dict': ..., 'meta': ...}`` (loadable by the classifier and,
    through ``init_cfg``, by the backbone). Returns the detected format and
    the converted state dict."""
    state_dict, fmt = convert_state_dict(read_checkpoint(src))
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(converted_from=os.path.basename(src),
                              source_format=fmt)), dst)
    return fmt, state_dict


# -- loading into a model -----------------------------------------------------
def load_into(module: nn.Module, state_dict: StateDict, source: str) -> None:
    """``load_state_dict(strict=False)`` that refuses shape mismatches with a
    message naming the keys, and logs missing and unexpected keys."""
    own = module.state_dict()
    bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
           for k, v in state_dict.items() if k in own and own[k].shape !=
           v.shape]
    if bad:
        raise CheckpointError(f'{source}: shape mismatch for '
                              f'{len(bad)} key(s): ' + '; '.join(bad[:10]))
    missing, unexpected = module.load_state_dict(state_dict, strict=False)
    print_log(f'loaded {len(state_dict) - len(unexpected)} tensors from '
              f'{source}', logger='current')
    if missing:
        print_log(f'missing keys (left at their initialisation): {missing}',
                  logger='current', level=30)
    if unexpected:
        print_log(f'unexpected keys (ignored): {unexpected}',
                  logger='current', level=30)


def load_pretrained(backbone: nn.Module, path: str,
                    prefix: Optional[str] = None) -> None:
    """Load CvT backbone weights from any known checkpoint layout.

    ``prefix`` selects a sub-tree first (e.g. ``'backbone.'``); otherwise the
    ``module.`` and ``backbone.`` prefixes are handled automatically. Keys
    outside the backbone (classifier head, detector neck...) are skipped and
    logged.
    """
    state_dict = read_checkpoint(path)
    if prefix:
        state_dict = strip_prefix(_strip_module(state_dict), prefix)
    state_dict, fmt = convert_state_dict(state_dict)
    backbone_sd = OrderedDict((k[len('backbone.'):], v)
                              for k, v in state_dict.items()
                              if k.startswith('backbone.'))
    if not backbone_sd:
        raise CheckpointError(f'{path}: no CvT backbone weights found; keys '
                              f'look like {list(state_dict)[:5]}')
    skipped: Dict[str, int] = {}
    for k in state_dict:
        if not k.startswith('backbone.'):
            top = k.split('.')[0]
            skipped[top] = skipped.get(top, 0) + 1
    if skipped:
        print_log(f'{path} ({fmt} format): tensors outside the backbone not '
                  f'loaded into it: {skipped}', logger='current')
    load_into(backbone, backbone_sd, f'{path} ({fmt} format)')
