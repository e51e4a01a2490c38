"""Independent oracles: expected values written here from published facts,
apart from the project's own code (the numerical oracle, ``transformers``'
CvT, is ``cvt_backbone.testing.make_hf_cvt``).

- :func:`conv_sizes`: the stage sizes by the paper's conv arithmetic, not
  the model's ``feature_sizes``;
- :func:`hf_to_original_reference`: the original release's key names by
  the published HF->original rename table, not the project's converter;
- :func:`ort_outputs`: an ONNX file run in onnxruntime directly, not
  through the package's own checker.
"""
import re
from collections import OrderedDict

import torch


def conv_sizes(h: int, w: int):
    """The three stage sizes for an ``h x w`` input, by the conv arithmetic
    ``floor((H + 2p - k) / s) + 1`` with the paper's (k, s, p), written
    independently of the model's own ``feature_sizes``."""
    sizes = []
    for k, s, p in ((7, 4, 2), (3, 2, 1), (3, 2, 1)):
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        sizes.append((h, w))
    return sizes


# The published rename table of transformers' conversion script
# (convert_cvt_original_pytorch_checkpoint_to_pytorch.py), HF name -> name
# in the original microsoft/CvT release.
_ATTN = 'attention.attention.'
_TABLE = [
    ('embedding.convolution_embeddings.projection.', 'patch_embed.proj.'),
    ('embedding.convolution_embeddings.normalization.', 'patch_embed.norm.'),
] + [
    (f'{_ATTN}convolution_projection_{hf}.convolution_projection.'
     f'convolution.', f'attn.conv_proj_{o}.conv.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    (f'{_ATTN}convolution_projection_{hf}.convolution_projection.'
     f'normalization.', f'attn.conv_proj_{o}.bn.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    (f'{_ATTN}projection_{hf}.', f'attn.proj_{o}.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    ('attention.output.dense.', 'attn.proj.'),
    ('intermediate.dense.', 'mlp.fc1.'),
    ('output.dense.', 'mlp.fc2.'),
    ('layernorm_before.', 'norm1.'),
    ('layernorm_after.', 'norm2.'),
]


def hf_to_original_reference(hf_state: dict) -> OrderedDict:
    """A ``CvtForImageClassification`` state dict in the original release's
    key names, by the published table."""
    out = OrderedDict()
    for key, value in hf_state.items():
        if key.startswith('layernorm.'):
            out['norm.' + key[len('layernorm.'):]] = value
            continue
        if key.startswith('classifier.'):
            out['head.' + key[len('classifier.'):]] = value
            continue
        m = re.fullmatch(r'cvt\.encoder\.stages\.(\d)\.cls_token', key)
        if m:
            out[f'stage{m.group(1)}.cls_token'] = value
            continue
        m = re.fullmatch(r'cvt\.encoder\.stages\.(\d)\.(layers\.(\d+)\.)?(.*)',
                         key)
        assert m, key
        stage, block, rest = m.group(1), m.group(3), m.group(4)
        for hf, orig in _TABLE:
            if rest.startswith(hf):
                rest = orig + rest[len(hf):]
                break
        else:
            raise AssertionError(f'unmapped HF key {key}')
        where = f'stage{stage}.' + (f'blocks.{block}.' if block else '')
        out[where + rest] = value
    return out


def ort_outputs(path: str, x: torch.Tensor) -> dict:
    """Run an ONNX file in onnxruntime (CPU) on ``x``, independently of the
    package's own checker: ``{output name: tensor}``."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: x.numpy()}
    names = [o.name for o in session.get_outputs()]
    return {n: torch.from_numpy(v)
            for n, v in zip(names, session.run(None, feed))}
