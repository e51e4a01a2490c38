"""The multiply-add counter (mmengine's FlopAnalyzer with CvT's ops): paper
figures, attention included, and the CLI."""
import math
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cvt_backbone import CvT
from cvt_backbone.models.backbones.cvt import tokens_to_map
from cvt_backbone.testing import make_hf_cvt
from cvt_backbone.utils import count_macs

from tool_runner import run_tool


class Whole(nn.Module):
    """CvT with every token of every block reaching the output (patch
    tokens and class token), as the release computes it; the tracer counts
    only what reaches an output."""

    def __init__(self, arch: str = '13') -> None:
        super().__init__()
        self.cvt = CvT(arch)

    def forward(self, x):
        for stage in self.cvt.stages:
            tokens, hw, cls_token = stage(x)
            x = tokens_to_map(tokens, hw)
        return x, cls_token


def test_cvt13_224_matches_the_paper():
    """The whole backbone plus the 1000-class Linear: the paper's 4.53 G."""
    macs = count_macs(Whole(), torch.zeros(1, 3, 224, 224))
    assert macs['total'] + 384 * 1000 == pytest.approx(4.53e9, rel=0.02)
    # attention matmuls are counted, with the class token in stage 2:
    # stage 0: 3136 x 784 x 64 x 2, stage 1: 2 x 784 x 196 x 192 x 2,
    # stage 2: 10 x 197 x 50 x 384 x 2
    want = 3136 * 784 * 64 * 2 + 2 * 784 * 196 * 192 * 2 + \
        10 * 197 * 50 * 384 * 2
    assert macs['scaled_dot_product_attention'] == want


def test_counts_every_kind_of_op_and_no_norms():
    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1, groups=2)
            self.fc = nn.Linear(8, 16)
            self.norm = nn.LayerNorm(16)
            self.w = nn.Parameter(torch.randn(2, 8, 3))

        def forward(self, x):
            y = self.conv(x).flatten(2).transpose(1, 2)  # [1, 25, 8]
            y = self.norm(self.fc(y))  # [1, 25, 16]
            q = y.view(1, 2, 25, 8)
            a = F.scaled_dot_product_attention(q, q[:, :, :5], q[:, :, :5])
            b = torch.baddbmm(torch.zeros(2, 1, 3), a.flatten(0, 1), self.w)
            return b, torch.bmm(a.flatten(0, 1),
                                q.flatten(0, 1).transpose(1, 2))

    macs = count_macs(Toy(), torch.zeros(1, 4, 5, 5))
    assert macs['conv'] == 8 * 25 * 2 * 9
    assert macs['linear'] == 25 * 16 * 8
    assert macs['scaled_dot_product_attention'] == 2 * 25 * 5 * (8 + 8)
    assert macs['baddbmm'] == 2 * 25 * 8 * 3
    assert macs['bmm'] == 2 * 25 * 25 * 8
    assert 'layer_norm' not in macs
    assert macs['total'] == sum(v for k, v in macs.items() if k != 'total')


def test_agrees_with_the_transformers_model():
    """HF computes attention with einsum and separate q/k/v maps; the same
    maths must give the same count (mmengine's einsum handle goes through
    numpy's einsum_path and is off by a few parts per million)."""
    theirs = count_macs(make_hf_cvt(num_labels=None),
                        torch.zeros(1, 3, 96, 128))
    ours = count_macs(Whole(), torch.zeros(1, 3, 96, 128))
    assert ours['total'] == pytest.approx(theirs['total'], rel=1e-5)


def test_class_token_model_counts_only_what_reaches_the_token():
    """With out_type='cls_token' the last block's patch-token outputs feed
    nothing: the count leaves them out."""
    x = torch.zeros(1, 3, 224, 224)
    whole = count_macs(Whole(), x)['total']
    cls = count_macs(CvT('13', out_type='cls_token'), x)['total']
    dims, tokens = 384, 14 * 14
    # patch-token q (conv + Linear), attention, proj and MLP of one block
    skipped = (tokens * dims * 9 + tokens * dims * dims + tokens * 50 * dims
               * 2 + tokens * dims * dims + 2 * tokens * dims * 4 * dims)
    assert whole - cls == skipped


def analytic_macs(arch: dict, hw, patch_embed=('conv', ) * 3,
                  qkv_proj=('conv', ) * 3, num_classes: int = 1000) -> int:
    """The whole network's multiply-adds, written from the paper's
    description (fvcore's per-op formulas): conv embedding, per block the
    depthwise q and k/v convs (k/v at stride s), the q/k/v Linear maps,
    QK^T and AV, the output projection and the MLP, with the class token in
    the last stage; then the head."""
    h, w = hw
    c_in, total = 3, 0
    kernels = dict(conv=[(7, 4, 2), (3, 2, 1), (3, 2, 1)],
                   patch=[(4, 4, 0), (2, 2, 0), (2, 2, 0)])
    for i in range(3):
        C, depth = arch['embed_dims'][i], arch['depths'][i]
        k, s, p = kernels[patch_embed[i]][i]
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        total += h * w * C * c_in * k * k
        cls = 1 if i == 2 else 0
        ratios = arch.get('mlp_ratios', [4] * 3)[i]
        strides = arch.get('kv_strides', [2] * 3)[i]
        for j in range(depth):
            r = ratios[j] if isinstance(ratios, list) else ratios
            st = strides[j] if isinstance(strides, list) else strides
            t = h * w
            if qkv_proj[i] == 'conv':
                t_kv = math.ceil(h / st) * math.ceil(w / st)
                total += 9 * C * t + 2 * 9 * C * t_kv
            else:
                t_kv = t
            tq, tk = t + cls, t_kv + cls
            total += tq * C * C + 2 * tk * C * C      # q, k, v Linear
            total += 2 * tq * tk * C                  # QK^T and AV
            total += tq * C * C + 2 * tq * C * int(r * C)  # proj, MLP
        c_in = C
    return total + arch['embed_dims'][-1] * num_classes


CVT13 = dict(embed_dims=[64, 192, 384], depths=[1, 2, 10],
             num_heads=[1, 3, 6])
NAS = dict(CVT13, kv_strides=[2, [1, 2], [2] * 5 + [1] * 5],
           mlp_ratios=[2, [4, 2], [4] * 9 + [2]])


@pytest.mark.parametrize('opts', [
    dict(),
    dict(kv_stride=1),
    dict(qkv_proj='linear'),
    dict(qkv_proj=['conv', 'linear', 'linear']),
    dict(patch_embed='patch', pos_embed=True),
    dict(arch=NAS),
])
def test_whole_network_count_matches_the_analytic_formula(opts):
    """The classifier (lean step on) counted whole, against the formula;
    position embeddings add no multiply-adds."""
    opts = dict(opts)
    arch = opts.pop('arch', CVT13)
    cvt = CvT(arch, out_type='cls_token', **opts)
    model = nn.Sequential(cvt, Head())
    got = count_macs(model, torch.zeros(1, 3, 224, 160), whole=True)
    want = analytic_macs(
        dict(arch, kv_strides=arch.get('kv_strides', cvt.arch['kv_strides'])),
        (224, 160), cvt.patch_embed_types, cvt.qkv_proj)
    assert got['total'] == want
    assert count_macs(model, torch.zeros(1, 3, 224, 160))['total'] < want
    assert all(b.cls_only is (j == 9) for j, b in
               enumerate(cvt.stages[2].blocks))  # restored


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(384, 1000)

    def forward(self, x):
        return self.fc(x[0])


def test_cli():
    res = run_tool([sys.executable, 'tools/analysis_tools/get_flops.py',
                    'cvt-13', '--shape', '224', '224'], timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    # headline: the whole network as the paper counts it (4.53 G there);
    # beside it the lean classification step as run
    want = analytic_macs(CVT13, (224, 224))
    assert f"FLOPs (whole network, the paper's count): 4.57 G " \
        f"multiply-adds ({want:,})" in out
    assert 'FLOPs as run: 4.27 G multiply-adds' in out
    assert 'lean classification step' in out
    assert '(19,997,480)' in out
    # the backbone alone: its feature maps; the last block's class-token
    # query, attention, projection and MLP reach no output as run
    res = run_tool([sys.executable, 'tools/analysis_tools/get_flops.py',
                    '13', '--num-classes', '0'], timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    want = analytic_macs(CVT13, (224, 224), num_classes=0)
    assert f'4.57 G multiply-adds ({want:,})' in res.stdout
    assert '(19,611,712)' in res.stdout
    cls_only = 384 * 384 * 2 + 50 * 384 * 2 + 2 * 384 * 1536  # T_kv 7*7+1
    assert f'FLOPs as run: 4.56 G multiply-adds ({want - cls_only:,})' \
        in res.stdout


def test_cli_on_an_ablation_config():
    res = run_tool([sys.executable, 'tools/analysis_tools/get_flops.py',
                    'configs/ablations/cvt13_table7a_kv-stride1.py'],
                   timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    want = analytic_macs(dict(CVT13, kv_strides=[1, 1, 1]), (224, 224))
    assert f'multiply-adds ({want:,})' in res.stdout
