"""The MAC counter: paper figures, attention included, and the CLI."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import make_hf_classifier
from cvt_backbone.flops import count_macs, get_flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cvt13_224_matches_the_paper():
    r = get_flops('13', (224, 224))
    assert r['macs'] == pytest.approx(4.53e9, rel=0.02)
    assert r['params'] == 19_997_480
    # attention matmuls are counted, with the class token in stage 2:
    # stage 0: 3136 x 784 x 64 x 2, stage 1: 2 x 784 x 196 x 192 x 2,
    # stage 2: 10 x 197 x 50 x 384 x 2
    want = 3136 * 784 * 64 * 2 + 2 * 784 * 196 * 192 * 2 + \
        10 * 197 * 50 * 384 * 2
    assert r['macs_by_kind']['attention'] == want


def test_counts_every_kind_of_op():
    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1, groups=2)
            self.fc = nn.Linear(8, 16)

        def forward(self, x):
            y = self.conv(x).flatten(2).transpose(1, 2)  # [1, 25, 8]
            y = self.fc(y)  # [1, 25, 16]
            q = y.view(1, 2, 25, 8)
            a = F.scaled_dot_product_attention(q, q[:, :, :5], q[:, :, :5])
            return torch.bmm(a.flatten(0, 1), q.flatten(0, 1).transpose(1, 2))

    macs = count_macs(Toy(), torch.zeros(1, 4, 5, 5))
    assert macs['conv'] == 8 * 25 * 2 * 9
    assert macs['linear'] == 25 * 16 * 8
    assert macs['attention'] == 2 * 25 * 5 * (8 + 8)
    assert macs['matmul'] == 2 * 25 * 25 * 8
    assert macs['total'] == sum(v for k, v in macs.items() if k != 'total')


def test_agrees_with_the_transformers_model():
    """HF computes attention with einsum and separate q/k/v maps; the same
    maths must give the same count."""
    hf = make_hf_classifier(num_labels=1000)
    x = torch.zeros(1, 3, 96, 128)
    theirs = count_macs(hf, x)
    ours = get_flops('13', (96, 128))
    assert ours['macs'] == theirs['total']


def test_cli():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'get_flops.py'), 'cvt-13',
         '--shape', '224', '224'], capture_output=True, text=True, check=True)
    assert '4.57 G' in out.stdout and '20.00 M' in out.stdout
