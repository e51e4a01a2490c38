"""The paper's ablation options of the CvT backbone (Tables 5-8) and its NAS
space: learned position embeddings, non-overlapping patch embeddings, the
position-wise linear projection, the k/v stride, per-block MLP ratios and k/v
strides; each against an independent computation, with the OpenMMLab
conventions, and the defaults unchanged."""
import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cvt_backbone import CvT
from cvt_backbone.models.backbones.cvt import ConvAttention, Stage
from cvt_backbone.testing import TINY_ARCH, randomise_bn

from compare import max_diff

# every option at once, so one model exercises them all together
ALL_OPTIONS = dict(pos_embed=True, img_size=64,
                   patch_embed=['patch', 'conv', 'conv'],
                   qkv_proj=['linear', 'conv', 'conv'],
                   kv_stride=[1, [1], [2, 1]])
OPTIONS = [
    dict(pos_embed=True, img_size=64),
    dict(pos_embed=[False, False, True], img_size=64),
    dict(patch_embed='patch'),
    dict(qkv_proj='linear'),
    dict(qkv_proj=['conv', 'linear', 'linear']),
    dict(kv_stride=1),
    ALL_OPTIONS,
]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(**kw) -> CvT:
    model = CvT(arch=TINY_ARCH, **kw)
    model.init_weights()
    return model


# -- defaults stay the release --------------------------------------------
def test_defaults_are_the_release():
    model = CvT('13')
    assert n_params(model) == 19_611_712
    assert not any('pos_embed' in k for k in model.state_dict())
    assert model.arch['kv_strides'] == [2, 2, 2]
    assert model.patch_sizes == (7, 3, 3) and model.paddings == (2, 1, 1)
    attn = model.stages[2].blocks[0].attn
    assert attn.conv_kv.conv.stride == (2, 2)
    assert attn.conv_q.conv.kernel_size == (3, 3)


# -- position embedding ---------------------------------------------------
def test_position_embedding_parameters_and_init():
    model = tiny(pos_embed=[True, False, True], img_size=(64, 48))
    # grids at 64x48: 16x12, 8x6, 4x3
    assert model.stages[0].pos_embed.shape == (1, 16 * 12, 16)
    assert model.stages[1].pos_embed is None
    assert model.stages[2].pos_embed.shape == (1, 4 * 3, 64)
    big = CvT('13', pos_embed=True)
    big.init_weights()
    # 56^2*64 + 28^2*192 + 14^2*384 learned parameters
    assert n_params(big) - 19_611_712 == 200_704 + 150_528 + 75_264
    assert 0.015 < big.stages[0].pos_embed.std() < 0.025
    assert big.stages[0].pos_embed.abs().max() <= 2  # trunc-normal


@pytest.mark.parametrize('hw', [(64, 64), (80, 48), (40, 100)])
def test_position_embedding_is_resized_like_timm(hw):
    """An embedding-only stage (no blocks): its tokens are the patch
    embedding plus the position embedding resampled by timm's
    ``resample_abs_pos_embed`` (bicubic, no antialiasing, as DeiT)."""
    from timm.layers import resample_abs_pos_embed
    torch.manual_seed(0)
    stage = Stage(3, 16, depth=0, num_heads=1, patch_size=7, stride=4,
                  padding=2, pos_embed_grid=(16, 16)).eval()
    nn.init.normal_(stage.pos_embed)
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        tokens, grid, _ = stage(x)
        plain, grid2 = stage.patch_embed(x)
        want = plain + resample_abs_pos_embed(
            stage.pos_embed, new_size=list(grid), old_size=[16, 16],
            num_prefix_tokens=0, interpolation='bicubic', antialias=False)
    assert grid == grid2 == ((hw[0] + 4 - 7) // 4 + 1,
                             (hw[1] + 4 - 7) // 4 + 1)
    assert max_diff(tokens, want) <= 1e-5
    if hw == (64, 64):  # the trained grid: the embedding as it is
        assert max_diff(tokens, plain + stage.pos_embed) == 0


# -- patch embedding --------------------------------------------------------
def test_non_overlapping_patch_embedding():
    model = tiny(patch_embed='patch')
    for stage, s in zip(model.stages, (4, 2, 2)):
        conv = stage.patch_embed.proj
        assert conv.kernel_size == (s, s) and conv.stride == (s, s)
        assert conv.padding == (0, 0)
    x = torch.randn(1, 3, 70, 45)
    with torch.no_grad():
        maps = model(x)
    # floor(H / 4), then floor(h / 2) twice
    assert [m.shape[2:] for m in maps] == [(17, 11), (8, 5), (4, 2)]
    # each token sees exactly its own 4x4 patch: a pixel change moves one
    x2 = x.clone()
    x2[..., 5, 6] += 10
    with torch.no_grad():
        a, _ = model.stages[0].patch_embed(x)
        b, _ = model.stages[0].patch_embed(x2)
    changed = (a - b).abs().amax(-1) > 0
    assert changed.sum() == 1 and changed[0, 1 * 11 + 1]
    with pytest.raises(ValueError, match='at least 16'):
        model(torch.randn(1, 3, 15, 40))


# -- position-wise linear projection ----------------------------------------
def plain_linear_attention(attn: ConvAttention, x, cls_token):
    """Multi-head attention with plain Linear q/k/v of ``[cls; x]`` (the
    original code's ``linear`` method), scaled by ``C ** -0.5``."""
    seq = torch.cat([cls_token, x], 1)
    C = seq.shape[-1]
    wk, wv = attn.kv.weight
    bk, bv = attn.kv.bias
    q = F.linear(seq, attn.q.weight, attn.q.bias)
    k, v = F.linear(seq, wk, bk), F.linear(seq, wv, bv)
    h = attn.num_heads

    def heads(t):
        return t.view(t.shape[0], t.shape[1], h, C // h).transpose(1, 2)

    w = (heads(q) @ heads(k).transpose(-1, -2) * C**-0.5).softmax(-1)
    out = (w @ heads(v)).transpose(1, 2).reshape(seq.shape)
    out = F.linear(out, attn.proj.weight, attn.proj.bias)
    return out[:, 1:], out[:, :1]


def test_linear_projection_is_plain_multi_head_attention():
    torch.manual_seed(0)
    attn = ConvAttention(32, num_heads=4, qkv_proj='linear',
                         kv_stride=1).eval()
    for p in attn.parameters():
        nn.init.normal_(p, std=0.2)
    assert attn.conv_kv is None
    assert not list(attn.conv_q.parameters())
    x, cls_token = torch.randn(2, 6 * 5, 32), torch.randn(2, 1, 32)
    with torch.no_grad():
        out, out_cls = attn(x, (6, 5), cls_token)
        want, want_cls = plain_linear_attention(attn, x, cls_token)
        lean = attn.forward_cls(x, (6, 5), cls_token)
    assert max_diff(out, want) <= 1e-5
    assert max_diff(out_cls, want_cls) <= 1e-5
    assert max_diff(lean, want_cls) <= 1e-5


def test_linear_projection_parameters():
    """No depthwise conv nor BatchNorm: 9C + 18C + 2C * 3 = 33C fewer
    parameters per block than the conv projection (q: conv 9C + BN 2C;
    k/v: conv 18C + BN 4C)."""
    conv, linear = CvT('13'), CvT('13', qkv_proj='linear')
    per_block = {64: 1, 192: 2, 384: 10}
    assert n_params(conv) - n_params(linear) == sum(
        33 * c * n for c, n in per_block.items())
    assert linear.arch['kv_strides'] == [1, 1, 1]


def test_linear_projection_refuses_a_kv_stride():
    with pytest.raises(ValueError, match='no spatial extent'):
        CvT(TINY_ARCH, qkv_proj='linear', kv_stride=2)
    with pytest.raises(ValueError, match='qkv_proj takes one of'):
        CvT(TINY_ARCH, qkv_proj='dw_bn')
    with pytest.raises(ValueError, match='patch_embed takes one of'):
        CvT(TINY_ARCH, patch_embed=['conv', 'patch'])


# -- k/v stride and the NAS space -------------------------------------------
def attention_shapes(model, x, monkeypatch):
    """(T_q, T_kv) of every attention call, in order."""
    seen = []
    sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, *a, **kw):
        seen.append((q.shape[-2], k.shape[-2]))
        return sdpa(q, k, v, *a, **kw)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', spy)
    with torch.no_grad():
        model(x)
    return seen


@pytest.mark.parametrize('stride', [1, 2, 3])
def test_kv_stride_gives_the_expected_token_counts(stride, monkeypatch):
    model = tiny(kv_stride=stride).eval()
    got = attention_shapes(model, torch.randn(1, 3, 70, 45), monkeypatch)
    grids = [(17, 11), (9, 6), (5, 3)]
    want = []
    for i, (h, w) in enumerate(grids):
        kv = math.ceil(h / stride) * math.ceil(w / stride)
        if i < 2:
            want += [(h * w, kv)] * TINY_ARCH['depths'][i]
        else:  # the class token is a key/value and queries on its own
            want += [(h * w, kv + 1), (1, kv + 1)] * TINY_ARCH['depths'][i]
    assert got == want


def test_per_block_kv_strides_and_mlp_ratios(monkeypatch):
    """The NAS space: one arch dict with a k/v stride and an MLP ratio per
    block."""
    arch = dict(TINY_ARCH, kv_strides=[2, [1], [1, 2]],
                mlp_ratios=[2, 4, [4, 2]])
    model = CvT(arch).eval()
    fc1 = [b.mlp.fc1.out_features for s in model.stages for b in s.blocks]
    assert fc1 == [32, 128, 256, 128]
    got = attention_shapes(model, torch.randn(1, 3, 64, 64), monkeypatch)
    assert [kv for _, kv in got] == [8 * 8, 8 * 8, 16 + 1, 16 + 1, 4 + 1,
                                     4 + 1]
    with pytest.raises(ValueError, match='needs 2 values'):
        CvT(dict(TINY_ARCH, kv_strides=[2, 2, [1, 2, 1]]))
    with pytest.raises(ValueError, match='needs 1 values'):
        CvT(dict(TINY_ARCH, mlp_ratios=[[4, 4], 4, 4]))


# -- every option with the OpenMMLab conventions ----------------------------
@pytest.mark.parametrize('opts', OPTIONS)
def test_lean_step_matches_the_full_model(opts):
    """The class-token model (last block lean) gives the class token of
    the full model, for any input size."""
    full = tiny(out_type='featmap', **opts).eval()
    randomise_bn(full)
    lean = tiny(out_type='cls_token', final_norm=False, **opts).eval()
    lean.load_state_dict(full.state_dict())
    x = torch.randn(2, 3, 72, 56, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = x
        for stage in full.stages:
            t, hw, want = stage(h)
            h = t.unflatten(1, hw).permute(0, 3, 1, 2)
        got = lean(x)[0]
    assert max_diff(got, want.flatten(1)) <= 1e-5


@pytest.mark.parametrize('opts', OPTIONS)
def test_out_indices_with_cp_fuse_and_layer_depth(opts):
    torch.manual_seed(0)
    plain = tiny(out_indices=(0, 2), drop_path_rate=0., **opts)
    cp = tiny(out_indices=(0, 2), drop_path_rate=0., with_cp=True, **opts)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 80)
    outs = []
    for model in (plain, cp):
        model.train()
        out = model(x)
        assert [o.shape[1] for o in out] == [16, 64]
        sum(o.square().mean() for o in out).backward()
        outs.append(out)
    for (n, p), q in zip(plain.named_parameters(), cp.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), n
    # fuse() keeps the outputs
    plain.eval()
    randomise_bn(plain)
    with torch.no_grad():
        want = plain(x)
        got = copy.deepcopy(plain).fuse()(x)
    assert max(max_diff(a, b) for a, b in zip(want, got)) <= 1e-5
    # every parameter has a depth; position embeddings go with their
    # stage's embedding
    depth = {n: plain.get_layer_depth(n)[0]
             for n, _ in plain.named_parameters()}
    for i, stage in enumerate(plain.stages):
        if stage.pos_embed is not None:
            assert depth[f'stages.{i}.pos_embed'] == \
                depth[f'stages.{i}.patch_embed.proj.weight']


def test_frozen_stem_freezes_its_position_embedding():
    model = tiny(pos_embed=True, frozen_stages=0)
    assert not model.stages[0].pos_embed.requires_grad
    assert model.stages[1].pos_embed.requires_grad


def test_every_option_exports_to_onnx_and_runs_at_other_sizes(tmp_path):
    """One tiny model with every option (the position embedding sized for
    64, exported at 48, checked at other sizes: the resize stays in the
    graph)."""
    pytest.importorskip('onnxruntime')
    from cvt_backbone.deploy import export_onnx
    model = tiny(**ALL_OPTIONS).eval()
    randomise_bn(model)
    report = export_onnx(model, str(tmp_path / 'options.onnx'),
                         input_size=(48, 48),
                         check_shapes=[(1, 3, 85, 61), (2, 3, 64, 64)])
    assert report.max_abs_diff <= 1e-4
