"""The CvT backbone: architecture, equivalence with an independent
implementation, shapes, input errors and the OpenMMLab conventions."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from cvt_backbone import CvT, QuickGELU
from cvt_backbone.checkpoint import convert_cvt_state_dict
from cvt_backbone.models.backbones.cvt import Block
from cvt_backbone.testing import TINY_ARCH, make_hf_cvt, randomise_bn

from compare import max_diff, split_converted
from oracles import conv_sizes


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(**kw) -> CvT:
    return CvT(arch=TINY_ARCH, **kw)


# -- architecture --------------------------------------------------------
@pytest.mark.parametrize('arch,backbone,total', [
    ('13', 19_611_712, 19_997_480),
    ('21', 31_236_928, 31_622_696),
    ('w24', 276_169_344, 277_196_392),
])
def test_parameter_counts(arch, backbone, total):
    """Backbone alone (dense outputs), and the published classifier: the
    class-token backbone (with its final LayerNorm) plus a 1000-way Linear
    (mmpretrain's LinearClsHead)."""
    assert n_params(CvT(arch)) == backbone
    cls_backbone = CvT(arch, out_type='cls_token')
    head = nn.Linear(cls_backbone.embed_dims[-1], 1000)
    assert n_params(cls_backbone) + n_params(head) == total


@pytest.mark.parametrize('alias', ['13', 'cvt-13', 'CvT-13', 'cvt13'])
def test_arch_aliases(alias):
    assert CvT(alias).arch['depths'] == [1, 2, 10]


def test_unknown_arch_lists_valid_names():
    with pytest.raises(ValueError, match=r"\['13', '21', 'w24'\]"):
        CvT('cvt-99')
    with pytest.raises(ValueError, match='num_heads'):
        CvT(dict(embed_dims=[8, 16, 32], depths=[1, 1, 1]))


def test_custom_arch_dict():
    model = CvT(dict(embed_dims=[16, 32, 64], depths=[1, 2, 3],
                     num_heads=[1, 2, 4], mlp_ratios=[2, 2, 2]))
    assert [len(s.blocks) for s in model.stages] == [1, 2, 3]
    assert model.stages[2].blocks[0].mlp.fc1.out_features == 128


def test_structure_follows_the_paper():
    model = CvT('13')
    stage2 = model.stages[2]
    assert [s.cls_token is not None for s in model.stages] == [
        False, False, True]
    assert [(s.patch_embed.proj.kernel_size[0], s.patch_embed.proj.stride[0],
             s.patch_embed.proj.padding[0]) for s in model.stages] == [
                 (7, 4, 2), (3, 2, 1), (3, 2, 1)]
    attn = stage2.blocks[0].attn
    assert attn.scale == pytest.approx(384**-0.5)  # stage width, not head
    assert attn.conv_q.conv.stride == (1, 1)
    assert attn.conv_kv.conv.stride == (2, 2)
    assert attn.conv_q.conv.groups == 384 and attn.conv_q.conv.bias is None
    assert isinstance(stage2.blocks[0].mlp.act, QuickGELU)
    assert all(m.eps == 1e-5 for m in model.modules()
               if isinstance(m, nn.LayerNorm))
    assert not any('pos' in name and 'embed' in name
                   for name, _ in model.named_parameters())


def test_activation_is_this_projects_quickgelu_in_every_scope():
    """mmpretrain registers its own QuickGELU; the backbone must not pick it
    up (or anything else) when built under mmpretrain's default scope."""
    import mmpretrain.models  # noqa: F401
    from mmengine.registry import init_default_scope
    for scope in ('mmpretrain', 'mmdet', 'mmseg'):
        init_default_scope(scope)
        assert type(tiny().stages[0].blocks[0].mlp.act) is QuickGELU


@pytest.mark.parametrize('arch,rates', [('13', [0, 0, 0.1]),
                                        ('w24', [0, 0, 0.3])])
def test_drop_path_is_per_stage_linspace(arch, rates):
    model = CvT(arch)
    for stage, rate in zip(model.stages, rates):
        got = [getattr(b.drop_path, 'drop_prob', 0.) for b in stage.blocks]
        want = torch.linspace(0, rate, len(stage.blocks)).tolist()
        assert got == pytest.approx(want)
    model = CvT('13', drop_path_rate=[0.1, 0.2, 0.3])
    assert model.stages[1].blocks[-1].drop_path.drop_prob == pytest.approx(.2)
    with pytest.raises(ValueError, match='3 values'):
        CvT('13', drop_path_rate=[0.1, 0.2])
    with pytest.raises(ValueError, match=r'in \[0, 1\).*1\.0'):
        CvT('13', drop_path_rate=[0.1, 0.2, 1.0])


@pytest.mark.parametrize('cls_only', [False, True])
def test_drop_path_drops_a_samples_class_and_patch_tokens_together(cls_only):
    """Stochastic depth as in the original, whose last stage runs its blocks
    on one sequence ``[cls; patches]``: per sample, each residual branch
    (attention, then MLP) is kept, scaled by 1/keep, or dropped for the class
    token and the patch tokens alike, and both outcomes occur."""
    torch.manual_seed(0)
    block = Block(16, num_heads=2, drop_path=0.5, cls_only=cls_only)
    block = block.double().train()
    seen = {'attn': [], 'norm2': [], 'mlp': []}  # attn: its output projection
    for name, m in [('attn', block.attn.proj), ('norm2', block.norm2),
                    ('mlp', block.mlp)]:
        m.register_forward_hook(
            lambda m, i, o, name=name: seen[name].append(
                i[0] if name == 'norm2' else o))
    x = torch.randn(64, 5 * 4, 16, dtype=torch.float64)
    cls = torch.randn(64, 1, 16, dtype=torch.float64)
    x2, cls2 = block(x, (5, 4), cls)

    def factor(before, branch, after):
        """the per-sample f with after == before + f * branch"""
        delta = after - before
        f = (delta * branch).sum((1, 2)) / branch.square().sum((1, 2))
        assert max_diff(delta, f[:, None, None] * branch) <= 1e-12
        f = f.detach().round(decimals=9)
        assert set(f.tolist()) == {0., 2.}  # keep = 0.5
        return f

    if cls_only:  # attention (class token only), then the MLP
        assert x2 is None
        (a_cls,), (cls1,), (m_cls,) = seen['attn'], seen['norm2'], seen['mlp']
        factor(cls, a_cls, cls1)
        factor(cls1, m_cls, cls2)
        return
    (a, a_cls), (x1, cls1), (m, m_cls) = (
        seen['attn'], seen['norm2'], seen['mlp'])
    assert torch.equal(factor(x, a, x1), factor(cls, a_cls, cls1))
    assert torch.equal(factor(x1, m, x2), factor(cls1, m_cls, cls2))


# -- equivalence with transformers ------------------------------------------
@pytest.mark.parametrize('size', [(224, 224), (161, 243)])
def test_matches_transformers(hf_classifier, size):
    converted, fmt = convert_cvt_state_dict(hf_classifier.state_dict())
    assert fmt == 'huggingface'
    backbone_sd, head_sd = split_converted(converted)
    dense_sd = {k: v for k, v in backbone_sd.items()
                if not k.startswith('cls_norm.')}
    model = CvT('13', act_cfg=dict(type='GELU')).eval()
    model.load_state_dict(dense_sd, strict=True)
    classifier = CvT('13', act_cfg=dict(type='GELU'),
                     out_type='cls_token').eval()
    classifier.load_state_dict(backbone_sd, strict=True)

    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = hf_classifier.cvt(x, output_hidden_states=True)
        ours = model(x)
        assert len(ours) == 3
        for r, o in zip(ref.hidden_states, ours):
            assert max_diff(o, r) <= 1e-4
        logits = F.linear(classifier(x)[0], head_sd['fc.weight'],
                          head_sd['fc.bias'])
        ref_logits = hf_classifier(x).logits
    assert max_diff(logits, ref_logits) <= 1e-4
    assert ref_logits.std() > 0.01  # a meaningful comparison


def _grads_by_our_names(hf_model) -> dict:
    """The gradients of a transformers CvT, under this project's parameter
    names (the converter only renames and interleaves/stacks k and v, which
    maps gradients as it maps weights); a parameter autograd never reached
    has a zero gradient."""
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p))
             for n, p in hf_model.named_parameters()}
    converted, _ = convert_cvt_state_dict(grads)
    return split_converted(converted)


def test_lean_class_token_step_matches_transformers():
    """out_type='cls_token' computes only what reaches the class token in
    the last block; logits and every gradient of a training step (train
    mode: BatchNorm on batch statistics) equal transformers' full
    computation on the same weights, in float64 to 1e-5."""
    # transformers indexes its drop-path list by stage: depth i needs > i
    arch = dict(embed_dims=[16, 32, 48], depths=[1, 2, 3],
                num_heads=[1, 2, 3])
    hf = make_hf_cvt(arch, num_labels=5, seed=3).double().train()
    backbone_sd, head_sd = split_converted(
        convert_cvt_state_dict(hf.state_dict())[0])
    ours = CvT(arch, act_cfg=dict(type='GELU'), out_type='cls_token',
               drop_path_rate=0.).double().train()
    ours.load_state_dict(backbone_sd, strict=True)
    head = nn.Linear(48, 5).double()
    head.load_state_dict({'weight': head_sd['fc.weight'],
                          'bias': head_sd['fc.bias']})
    x = torch.randn(3, 3, 72, 56, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    target = torch.tensor([0, 3, 1])

    want = hf(x).logits
    F.cross_entropy(want, target).backward()
    got = head(ours(x)[0])
    F.cross_entropy(got, target).backward()
    assert max_diff(got, want) <= 1e-5 and want.std() > 0.01

    want_grads, want_head = _grads_by_our_names(hf)
    unused = 'stages.2.blocks.2.attn.conv_q.'
    for name, p in ours.named_parameters():
        if name.startswith(unused):
            assert p.grad is None and not p.requires_grad, name
            assert not want_grads[name].any(), name  # no path to the loss
            continue
        assert p.grad is not None, name
        assert max_diff(p.grad, want_grads[name]) <= 1e-5, name
    assert max_diff(head.weight.grad, want_head['fc.weight']) <= 1e-5
    assert sum(p.grad.abs().sum() for p in ours.parameters()
               if p.grad is not None) > 0


def test_lean_classifier_excludes_only_the_unused_query_projection():
    """The last block's patch-token query projection is the one part left
    out: no gradient, BatchNorm kept in eval mode through train(), its keys
    kept so checkpoints (and a featmap model's weights) load strictly, and
    it is never run, so its statistics stay put."""
    model = tiny(out_type='cls_token')
    model.train()
    unused = model.stages[2].blocks[-1].attn.conv_q
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'stages.2.blocks.1.attn.conv_q.' + n
                      for n, _ in unused.named_parameters()}
    assert not unused.bn.training
    assert all(m.training for m in model.modules()
               if isinstance(m, _BatchNorm) and m is not unused.bn)
    featmap = tiny()
    assert set(model.state_dict()) - set(featmap.state_dict()) == {
        'cls_norm.weight', 'cls_norm.bias'}
    model.load_state_dict(dict(featmap.state_dict(),
                               **{f'cls_norm.{k}': v for k, v in
                                  model.cls_norm.state_dict().items()}))
    before = unused.bn.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))[0].sum().backward()
    assert torch.equal(unused.bn.running_mean, before)
    # the other blocks of the stage still compute the patch tokens
    assert not model.stages[2].blocks[0].cls_only
    assert model.stages[2].blocks[-1].cls_only
    assert not any(b.cls_only for b in featmap.modules()
                   if isinstance(b, Block))


def test_default_activation_is_quickgelu():
    """With HF's GELU swapped for QuickGELU the oracle is the released
    model; our default must match it, and GELU must not."""
    ref = make_hf_cvt(quick_gelu=True, seed=3)
    backbone_sd, _ = split_converted(
        convert_cvt_state_dict(ref.state_dict())[0])
    backbone_sd = {k: v for k, v in backbone_sd.items()
                   if not k.startswith('cls_norm.')}
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        want = ref.cvt(x).last_hidden_state
        default = CvT('13').eval()
        default.load_state_dict(backbone_sd)
        gelu = CvT('13', act_cfg=dict(type='GELU')).eval()
        gelu.load_state_dict(backbone_sd)
        assert (default(x)[2] - want).abs().max() <= 1e-4
        assert (gelu(x)[2] - want).abs().max() > 1e-3


# -- shapes and input errors ------------------------------------------------
@pytest.mark.parametrize('h,w,sizes', [
    (224, 224, [(56, 56), (28, 28), (14, 14)]),
    (800, 1333, [(200, 333), (100, 167), (50, 84)]),
    (97, 131, conv_sizes(97, 131)),
    (33, 45, conv_sizes(33, 45)),
    (3, 5, [(1, 1), (1, 1), (1, 1)]),
])
def test_output_shapes(h, w, sizes):
    model = CvT('13').eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, h, w))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (1, c, *hw) for c, hw in zip((64, 192, 384), sizes)]


def test_out_indices_out_norm_and_cls_token():
    model = tiny(out_indices=(0, 2), out_norm=True).eval()
    assert hasattr(model, 'norm0') and hasattr(model, 'norm2')
    assert not hasattr(model, 'norm1') and model.cls_norm is None
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 64]
    cls_model = tiny(out_type='cls_token').eval()
    cls = cls_model(torch.randn(1, 3, 64, 64))
    assert len(cls) == 1 and cls[0].shape == (1, 64)  # B=1 not squeezed
    # the published classifier's final LayerNorm is applied to the token
    raw = tiny(out_type='cls_token', final_norm=False).eval()
    raw.load_state_dict(cls_model.state_dict(), strict=False)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(cls_model(x)[0], cls_model.cls_norm(raw(x)[0]))
    with pytest.raises(ValueError, match='out_indices'):
        tiny(out_indices=(3, ))
    with pytest.raises(ValueError, match='out_type'):
        tiny(out_type='tokens')


@pytest.mark.parametrize('batch', [1, 2])
def test_output_maps_are_plain_nchw(batch):
    """Stages run channels-last inside, but the returned maps must be plain
    contiguous NCHW: mmcv's compiled ops (RoIAlign) read raw NCHW memory and
    pool scrambled features from a channels-last map."""
    outs = tiny(out_indices=(0, 1, 2), out_norm=True).eval()(
        torch.randn(batch, 3, 67, 45))
    assert all(o.is_contiguous() for o in outs)


@pytest.mark.parametrize('x,match', [
    (torch.randn(3, 64, 64), '4-D'),
    (torch.randn(1, 1, 64, 64), '3 input channels'),
    (torch.randn(1, 3, 2, 64), 'too small'),
])
def test_bad_input_raises_clear_error(x, match):
    with pytest.raises(ValueError, match=match):
        tiny()(x)


# -- OpenMMLab conventions ------------------------------------------------
def bn_modes(module):
    return [m.training for m in module.modules() if isinstance(m, _BatchNorm)]


@pytest.mark.parametrize('k', [0, 1, 2, 3])
def test_frozen_stages(k):
    model = tiny(frozen_stages=k, out_norm=True)
    model.train()
    stem = model.stages[0].patch_embed
    assert all(not p.requires_grad for p in stem.parameters())
    for i, stage in enumerate(model.stages):
        frozen = i < k
        params = [p.requires_grad for n, p in stage.named_parameters()
                  if not n.startswith('patch_embed') or i > 0]
        assert all(r is not frozen for r in params), (k, i)
        assert all(t is not frozen for t in bn_modes(stage)), (k, i)
        norm = getattr(model, f'norm{i}')
        assert all(p.requires_grad is not frozen for p in norm.parameters())
    # a frozen stage keeps its BN statistics through a training step
    before = copy.deepcopy(model.state_dict())
    model(torch.randn(2, 3, 64, 64))
    after = model.state_dict()
    for name in before:
        if name.endswith('running_mean'):
            changed = not torch.equal(before[name], after[name])
            stage = int(name.split('.')[1])
            assert changed is (stage >= k), name
    with pytest.raises(ValueError, match='frozen_stages'):
        tiny(frozen_stages=4)


def test_norm_eval_keeps_batchnorm_in_eval():
    model = tiny(norm_eval=True)
    model.train()
    assert bn_modes(model) and not any(bn_modes(model))
    assert all(m.training for m in model.modules()
               if isinstance(m, nn.LayerNorm))
    model = tiny(norm_eval=False)
    model.train()
    assert all(bn_modes(model))


@pytest.mark.parametrize('out_type', ['featmap', 'cls_token'])
def test_with_cp_gives_same_outputs_grads_and_bn_stats(out_type):
    torch.manual_seed(0)
    plain = tiny(drop_path_rate=0., out_type=out_type)
    cp = tiny(with_cp=True, drop_path_rate=0., out_type=out_type)
    cp.load_state_dict(plain.state_dict())
    assert all(b.with_cp for b in cp.modules() if isinstance(b, Block))
    x = torch.randn(2, 3, 64, 64)
    for model in (plain, cp):
        model.train()
        sum(o.square().mean() for o in model(x.clone().requires_grad_())
            ).backward()
    for (n, p), q in zip(plain.named_parameters(), cp.parameters()):
        if p.grad is None:  # the lean classifier's unused query projection
            assert q.grad is None and not p.requires_grad, n
            continue
        assert torch.allclose(p.grad, q.grad, atol=1e-5), n
    # the recomputation in backward must not update BN statistics again
    for (n, a), b in zip(plain.state_dict().items(),
                         cp.state_dict().values()):
        if 'running' in n:
            assert torch.allclose(a, b, atol=1e-6), n


def test_init_weights_follows_the_paper():
    model = CvT('13')
    for p in model.parameters():
        nn.init.constant_(p, 0.5)
    model.init_weights()
    lin = [m for m in model.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in lin])
    assert weights.std().item() == pytest.approx(0.02, rel=0.1)
    # timm/mmengine trunc_normal_ bounds are absolute (+-2), as in the paper
    assert weights.abs().max() <= 2
    assert all((m.bias == 0).all() for m in lin)
    kv = [m.attn.kv for m in model.modules() if isinstance(m, Block)]
    assert all((m.bias == 0).all() for m in kv)
    assert torch.cat([m.weight.flatten() for m in kv]).std().item() == \
        pytest.approx(0.02, rel=0.1)
    for m in model.modules():
        if isinstance(m, (nn.LayerNorm, _BatchNorm)):
            assert (m.weight == 1).all() and (m.bias == 0).all()
    cls = model.stages[2].cls_token
    assert 0.01 < cls.std() < 0.03


def test_layer_depth_for_layer_wise_lr_decay():
    """CvT-13 has 1 + 2 + 10 blocks: 15 depths, the stem first, the blocks
    in forward order, a stage's embedding with its first block, and the
    norms and everything outside the backbone last."""
    model = CvT('13', out_norm=True)
    depth = {n: model.get_layer_depth(n) for n, _ in model.named_parameters()}
    assert {num for _, num in depth.values()} == {15}
    assert depth['stages.0.patch_embed.proj.weight'] == (0, 15)
    assert depth['stages.0.blocks.0.attn.q.weight'] == (1, 15)
    assert depth['stages.1.patch_embed.proj.weight'] == (2, 15)
    assert depth['stages.1.blocks.1.mlp.fc2.bias'] == (3, 15)
    assert depth['stages.2.cls_token'] == (4, 15)
    assert depth['stages.2.blocks.9.norm2.weight'] == (13, 15)
    assert depth['norm2.weight'] == (14, 15)
    order = [d for d, _ in depth.values()]  # registration = forward order
    assert order == sorted(order)
    assert model.get_layer_depth('backbone.stages.0.blocks.0.norm1.weight',
                                 'backbone.') == (1, 15)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (14, 15)


def test_fuse_keeps_outputs():
    model = CvT('13').eval()
    randomise_bn(model)
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        want = model(x)
        got = copy.deepcopy(model).fuse()(x)
    for a, b in zip(want, got):
        assert (a - b).abs().max() <= 1e-5


def test_deprecated_pretrained_argument(tmp_path):
    with pytest.warns(UserWarning, match='deprecated'):
        model = tiny(pretrained='some.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='some.pth')
    with pytest.raises(AssertionError):
        tiny(pretrained='a.pth', init_cfg=dict(type='Pretrained',
                                               checkpoint='a.pth'))
    with pytest.raises(TypeError):
        tiny(pretrained=123)
    with pytest.raises(TypeError):
        tiny(init_cfg=123).init_weights()


# -- mmdet / mmseg integration ----------------------------------------------
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def test_registered_once_in_the_root_registry():
    from mmdet.registry import MODELS as DET
    from mmengine.registry import MODELS as ROOT
    from mmseg.registry import MODELS as SEG
    assert ROOT.get('CvT') is CvT
    assert DET.get('CvT') is CvT and SEG.get('CvT') is CvT
    assert 'CvT' not in DET.module_dict and 'CvT' not in SEG.module_dict
    from mmengine.registry import init_default_scope
    for scope, registry in (('mmdet', DET), ('mmseg', SEG)):
        init_default_scope(scope)
        model = registry.build(dict(type='CvT', arch='cvt-13',
                                    out_indices=(1, 2)))
        assert isinstance(model, CvT) and model.out_indices == (1, 2)


def test_retinanet_with_cvt_fpn_builds_and_runs():
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = dict(
        type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=MEAN, std=STD,
                               bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='CvT', arch='13', out_norm=True),
        # strides 8 and 16 from CvT, 32/64/128 from extra convs
        neck=dict(type='FPN', in_channels=[64, 192, 384], out_channels=64,
                  start_level=1, add_extra_convs='on_input', num_outs=5),
        bbox_head=dict(
            type='RetinaHead', num_classes=3, in_channels=64,
            stacked_convs=1, feat_channels=64,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32, 64, 128]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                            target_means=[.0, .0, .0, .0],
                            target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                          alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5),
                      max_per_img=10))
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    assert isinstance(model.backbone, CvT)
    with torch.no_grad():
        cls_scores, _ = model(torch.randn(1, 3, 128, 160), mode='tensor')
    sizes = [tuple(s.shape[-2:]) for s in cls_scores]
    assert sizes == [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]


def test_encoder_decoder_with_cvt_uperhead_builds_and_runs():
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=MEAN, std=STD,
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
        backbone=dict(type='CvT', arch='13', out_norm=True),
        decode_head=dict(
            type='UPerHead', in_channels=[64, 192, 384], in_index=[0, 1, 2],
            pool_scales=(1, 2, 3, 6), channels=32, dropout_ratio=0.1,
            num_classes=5, norm_cfg=dict(type='BN'), align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 96, 160), mode='tensor')
    assert logits.shape == (2, 5, 24, 40)  # stride 4


# -- deployment: fused BatchNorm and torch.compile ---------------------------
def test_fused_deploy_model_matches_eager_and_has_no_batchnorm():
    model = tiny(drop_path_rate=0.).eval()
    randomise_bn(model, seed=5)
    fused = copy.deepcopy(model).fuse()
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    x = torch.randn(2, 3, 72, 56)
    with torch.no_grad():
        for a, b in zip(model(x), fused(x)):
            assert (a - b).abs().max() <= 1e-4
    cls = tiny(drop_path_rate=0., out_type='cls_token').eval()
    cls.load_state_dict(model.state_dict(), strict=False)
    fused_cls = copy.deepcopy(cls).fuse()
    with torch.no_grad():
        assert max_diff(fused_cls(x)[0], cls(x)[0]) <= 1e-4


@pytest.mark.parametrize('cls_only', [False, True])
def test_block_compiles_without_graph_breaks(cls_only):
    import torch._dynamo
    torch._dynamo.reset()
    block = Block(32, 2, cls_only=cls_only).eval()
    x, cls = torch.randn(2, 48, 32), torch.randn(2, 1, 32)
    explained = torch._dynamo.explain(block)(x, (6, 8), cls)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.parametrize('out_type', ['cls_token', 'featmap'])
def test_training_forward_compiles_to_one_graph(out_type):
    """What torch.compile traces in a training step (train mode, drop path,
    gradients): the whole backbone as one graph, no break."""
    import torch._dynamo
    torch._dynamo.reset()
    model = tiny(out_type=out_type, drop_path_rate=0.2).train()
    explained = torch._dynamo.explain(model)(torch.randn(2, 3, 64, 48))
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_compiled_model_matches_eager():
    torch._dynamo.reset()
    model = tiny(drop_path_rate=0.).eval()
    randomise_bn(model, seed=2)
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        want = model(x)
        got = compiled(x)
    for a, b in zip(want, got):
        assert a.shape == b.shape
        assert (a - b).abs().max() <= 1e-4


@pytest.mark.parametrize('batch', [1, 2])
def test_token_layout_stays_channels_last_without_copies(batch):
    """The token <-> map views must keep convolutions in channels-last for
    any batch size (batch 1 used to fall back to NCHW, forcing copies)."""
    from cvt_backbone.models.backbones.cvt import ConvProjection, tokens_to_map
    x = torch.randn(batch, 12 * 10, 32)
    m = tokens_to_map(x, (12, 10))
    assert m.data_ptr() == x.data_ptr()
    assert m.is_contiguous(memory_format=torch.channels_last)
    proj = ConvProjection(32, 2, dict(type='BN'), out_per_channel=2).eval()
    with torch.no_grad():
        assert proj(x, (12, 10)).is_contiguous()


def test_quickgelu_inference_path_matches_autograd_path():
    x = torch.randn(4, 7, 16)
    act = QuickGELU()
    want = x * torch.sigmoid(1.702 * x)
    with torch.no_grad():
        got = act(x.clone())
    assert torch.equal(got, want)
    xg = x.clone().requires_grad_()
    act(xg).sum().backward()
    assert torch.equal(act(xg).detach(), want) and xg.grad is not None
