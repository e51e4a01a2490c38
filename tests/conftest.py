"""Shared fixtures and helpers. The numerical oracle is Hugging Face ``transformers``'
CvT, an implementation independent of ours."""
import os
import re
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn


def pytest_configure(config):
    config.addinivalue_line('markers',
                            'slow: end-to-end tests (still run in CI)')


def randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so that an
    equivalence test fails if BN is skipped, misplaced or mis-mapped."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))


class QuickGELURef(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


def make_hf_classifier(num_labels: int = 10, quick_gelu: bool = False,
                       seed: int = 0, **config):
    """A randomly initialised ``CvtForImageClassification`` in eval mode with
    non-trivial BN statistics. ``quick_gelu`` swaps HF's GELU for the
    released models' QuickGELU, making it numerically the original CvT."""
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(seed)
    model = transformers.CvtForImageClassification(
        transformers.CvtConfig(num_labels=num_labels, **config))
    randomise_bn(model, seed)
    if quick_gelu:
        for m in model.modules():
            if type(m).__name__ == 'CvtIntermediate':
                m.activation = QuickGELURef()
    return model.eval()


@pytest.fixture(scope='session')
def hf_classifier():
    return make_hf_classifier()


# The published rename table of transformers' conversion script
# (convert_cvt_original_pytorch_checkpoint_to_pytorch.py), HF name -> name
# in the original microsoft/CvT release. Written from that table, apart
# from the project's converter, so the original-format path is checked
# against an independent mapping.
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


class CodeRunningPickle:
    """Pickles to a call of ``os.system('touch MARKER')``: loading it must be
    refused, and the marker file must never appear."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))
