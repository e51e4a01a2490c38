"""The published CvT checkpoint layouts, detected and converted to this
project's keys.

Three key layouts are understood and detected automatically:

* ``original``: the microsoft/CvT release (``CvT-13-224x224-IN-1k.pth``):
  ``stage{i}.blocks.{j}.attn.conv_proj_q.conv.weight``, ``proj_q``,
  ``mlp.fc1``, ``norm``, ``head``;
* ``huggingface``: ``microsoft/cvt-*`` (``CvtModel`` or
  ``CvtForImageClassification``):
  ``[cvt.]encoder.stages.{i}.layers.{j}...``, ``layernorm``, ``classifier``;
* ``cvt_backbone``: this project's keys, bare (``stages.*``) or under a
  model prefix (``backbone.stages.*``, ``head.*``, ``neck.*``...).

Everything converts to the keys of an mmpretrain ``ImageClassifier`` with
the CvT backbone (:class:`cvt_backbone.models.CvT`) and a
``LinearClsHead``: the backbone under ``backbone.`` (the classifier's final
LayerNorm as ``backbone.cls_norm.``), the Linear under ``head.fc.``. The
fused k/v layout of the model (one grouped conv ``Conv2d(C, 2C, groups=C)``
with k in even and v in odd channels, one ``KVLinear`` ``[2, C, C]``) is
made here from the published separate k and v tensors.

No OpenMMLab library converts CvT weights (none has a CvT), and
``transformers``' script only goes from the original release to its own
layout; both directions into ours are here, beside nothing else. The way
back (:func:`cvt_backbone_to_hf`, for the Hugging Face export) runs the same
rename table and the same k/v fusion backwards.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple

import torch
from torch import Tensor

from .errors import CheckpointError

StateDictT = Dict[str, Tensor]
ORIGINAL = 'original'
HUGGINGFACE = 'huggingface'
CVT_BACKBONE = 'cvt_backbone'


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


# Hugging Face -> original, applied to the key inside a stage/layer.
_HF_ATTN = 'attention.attention.'
_HF_RENAMES: List[Tuple[str, str]] = [
    ('embedding.convolution_embeddings.projection.', 'patch_embed.proj.'),
    ('embedding.convolution_embeddings.normalization.', 'patch_embed.norm.'),
    ('attention.output.dense.', 'attn.proj.'),
    ('intermediate.dense.', 'mlp.fc1.'),
    ('output.dense.', 'mlp.fc2.'),
    ('layernorm_before.', 'norm1.'),
    ('layernorm_after.', 'norm2.'),
]
for _hf, _o in (('query', 'q'), ('key', 'k'), ('value', 'v')):
    _conv = f'{_HF_ATTN}convolution_projection_{_hf}.convolution_projection.'
    _HF_RENAMES += [(f'{_conv}convolution.', f'attn.conv_proj_{_o}.conv.'),
                    (f'{_conv}normalization.', f'attn.conv_proj_{_o}.bn.'),
                    (f'{_HF_ATTN}projection_{_hf}.', f'attn.proj_{_o}.')]
_HF_KEY = re.compile(r'encoder\.stages\.(\d+)\.(?:layers\.(\d+)\.)?(.*)')


def hf_to_original(state_dict: Mapping[str, Tensor]) -> StateDictT:
    """Hugging Face ``microsoft/cvt-*`` keys -> original release keys."""
    out = OrderedDict()
    for key, value in state_dict.items():
        name = key[len('cvt.'):] if key.startswith('cvt.') else key
        m = _HF_KEY.fullmatch(name)
        if m:
            stage, layer, rest = m.groups()
            for hf, orig in _HF_RENAMES:
                if rest.startswith(hf):
                    rest = orig + rest[len(hf):]
                    break
            # unknown names are kept in their stage so loading reports them
            name = f'stage{stage}.' + (f'blocks.{layer}.' if layer else '') \
                + rest
        elif name.startswith('layernorm.'):
            name = 'norm.' + name[len('layernorm.'):]
        elif name.startswith('classifier.'):
            name = 'head.' + name[len('classifier.'):]
        out[name] = value
    return out


def _interleave(k: Tensor, v: Tensor) -> Tensor:
    """k, v ``[C, ...]`` -> ``[2C, ...]`` with k at even, v at odd rows (the
    channel order of the fused grouped k/v conv)."""
    return torch.stack([k, v], dim=1).flatten(0, 1)


_ATTN_KV = re.compile(
    r'(stage\d+\.blocks\.\d+\.attn\.)(conv_proj_[kv]\.(conv|bn)|proj_[kv])\.'
    r'(.+)')


def original_to_cvt_backbone(state_dict: Mapping[str, Tensor]) -> StateDictT:
    """Original release keys -> this project's model layout."""
    out = OrderedDict()
    pending: Dict[str, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        m = _ATTN_KV.match(key)
        if m:  # k and v are merged once both halves are seen
            prefix, part, kind, leaf = m.groups()
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
        return 'backbone.cls_norm.' + key[len('norm.'):]
    if key.startswith('head.'):
        return 'head.fc.' + key[len('head.'):]
    return key


def convert_cvt_state_dict(state_dict: Mapping[str, Tensor]
                           ) -> Tuple[StateDictT, str]:
    """Any known CvT layout -> this project's model layout, and the format
    that was detected. A ``module.`` prefix on every key (DataParallel) is
    removed first; bare backbone keys (``stages.*``, ``norm0``...) get
    ``backbone.``."""
    state_dict = OrderedDict(state_dict)
    if state_dict and all(k.startswith('module.') for k in state_dict):
        state_dict = OrderedDict((k[len('module.'):], v)
                                 for k, v in state_dict.items())
    fmt = detect_format(state_dict)
    if fmt == HUGGINGFACE:
        return original_to_cvt_backbone(hf_to_original(state_dict)), fmt
    if fmt == ORIGINAL:
        return original_to_cvt_backbone(state_dict), fmt
    return OrderedDict(
        ('backbone.' + k if re.match(r'(stages\.\d|norm\d\.|cls_norm\.)', k)
         else k, v) for k, v in state_dict.items()), fmt


# -- the way back: this project's layout -> original -> Hugging Face --------
_KV_FUSED = re.compile(
    r'(stage\d+\.blocks\.\d+\.attn\.)(?:conv_kv\.(conv|bn)|kv)\.(.+)')


def _unrename_original(key: str) -> str:
    """The inverse of :func:`_rename_original`."""
    m = re.match(r'backbone\.stages\.(\d+)\.(.*)', key)
    if m:
        rest = m.group(2).replace('attn.conv_q.', 'attn.conv_proj_q.') \
                         .replace('attn.q.', 'attn.proj_q.')
        return f'stage{m.group(1)}.{rest}'
    if key.startswith('backbone.cls_norm.'):
        return 'norm.' + key[len('backbone.cls_norm.'):]
    if key.startswith('head.fc.'):
        return 'head.' + key[len('head.fc.'):]
    return key


def cvt_backbone_to_original(state_dict: Mapping[str, Tensor]
                             ) -> StateDictT:
    """This project's model layout -> original release keys: the inverse
    of :func:`original_to_cvt_backbone` (the fused k/v tensors split back
    into k and v). Keys with no original counterpart are kept as they are
    (the next step reports them)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        name = _unrename_original(key)
        m = _KV_FUSED.fullmatch(name)
        if not m:
            out[name] = value
            continue
        prefix, kind, leaf = m.groups()
        if leaf == 'num_batches_tracked':
            halves = (value, value)
        elif kind is None:  # KVLinear: [2, C, C] / [2, C], k then v
            halves = (value[0], value[1])
        else:  # the grouped conv / its BN: k at even, v at odd channels
            halves = (value[0::2], value[1::2])
        for which, half in zip('kv', halves):
            part = f'conv_proj_{which}.{kind}' if kind else f'proj_{which}'
            out[f'{prefix}{part}.{leaf}'] = half.contiguous().clone()
    return out


def original_to_hf(state_dict: Mapping[str, Tensor]) -> StateDictT:
    """Original release keys -> ``CvtForImageClassification`` keys: the
    inverse of :func:`hf_to_original` (the same rename table). A key with
    no Hugging Face counterpart raises :class:`CheckpointError`."""
    out = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        m = re.fullmatch(r'stage(\d+)\.(?:blocks\.(\d+)\.)?(.*)', key)
        if m:
            stage, layer, rest = m.groups()
            for hf, orig in _HF_RENAMES:
                if rest.startswith(orig):
                    rest = hf + rest[len(orig):]
                    break
            else:
                if layer is not None or rest != 'cls_token':
                    unknown.append(key)
                    continue
            where = f'layers.{layer}.' if layer is not None else ''
            out[f'cvt.encoder.stages.{stage}.{where}{rest}'] = value
        elif key.startswith('norm.'):
            out['layernorm.' + key[len('norm.'):]] = value
        elif key.startswith('head.'):
            out['classifier.' + key[len('head.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(
            f'{len(unknown)} tensor(s) have no counterpart in transformers\' '
            f'CvtForImageClassification: {unknown[:10]}')
    return out


def cvt_backbone_to_hf(state_dict: Mapping[str, Tensor]) -> StateDictT:
    """This project's classifier keys (``backbone.*``, ``head.fc.*``) ->
    ``transformers``' ``CvtForImageClassification`` keys: the way back of
    :func:`convert_cvt_state_dict`."""
    return original_to_hf(cvt_backbone_to_original(state_dict))
