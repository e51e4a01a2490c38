"""The paper's ablation configs (Tables 5-8, configs/ablations/): each one
is cvt13_classify.py with only the backbone changed, builds the variant it
names, and trains for a few iterations (at tiny scale, on generated
images, with the config's own recipe: loss, Mixup/CutMix, AdamW)."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cvt_backbone import CvT
from cvt_backbone.testing import TINY_DENSE_ARCH
from cvt_backbone.testing.synthetic import classification_image

from tiny_configs import CONFIGS, config_path

ABLATIONS = sorted(osp.basename(p) for p in glob.glob(
    osp.join(CONFIGS, 'ablations', '*.py')))

# name -> (backbone options, what the built CvT-13 must show)
POS_ALL = (True, True, True)
EXPECTED = {
    'cvt13_table5c_pos-every-stage.py': dict(pos=POS_ALL),
    'cvt13_table5d_pos-first-stage.py': dict(pos=(True, False, False)),
    'cvt13_table5e_pos-last-stage.py': dict(pos=(False, False, True)),
    'cvt13_table5f_pos-none.py': dict(),
    'cvt13_table6a_patch-embed_no-pos.py': dict(patch=True),
    'cvt13_table6b_patch-embed_pos.py': dict(patch=True, pos=POS_ALL),
    'cvt13_table6c_conv-embed_pos.py': dict(pos=POS_ALL),
    'cvt13_table6d_conv-embed_no-pos.py': dict(),
    'cvt13_table7a_kv-stride1.py': dict(kv=1),
    'cvt13_table7b_kv-stride2.py': dict(),
    'cvt13_table8a_linear-proj.py': dict(
        proj=('linear', 'linear', 'linear')),
    'cvt13_table8b_conv-proj-stage1.py': dict(
        proj=('conv', 'linear', 'linear')),
    'cvt13_table8c_conv-proj-stage1-2.py': dict(
        proj=('conv', 'conv', 'linear')),
    'cvt13_table8d_conv-proj-all.py': dict(),
}


def build(cfg: Config):
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return MODELS.build(model_cfg)


def test_every_paper_row_has_a_config():
    assert ABLATIONS == sorted(EXPECTED)


@pytest.mark.parametrize('name', ABLATIONS)
def test_config_changes_only_the_backbone(name):
    cfg = Config.fromfile(config_path(f'ablations/{name}'))
    base = Config.fromfile(config_path('cvt13_classify.py'))
    assert cfg.model.backbone.type == 'CvT'
    assert cfg.model.backbone.arch == '13'
    a, b = cfg.to_dict(), base.to_dict()
    a['model'].pop('backbone')
    b['model'].pop('backbone')
    a.pop('_base_', None)
    assert a == b


@pytest.mark.parametrize('name', ABLATIONS)
def test_config_builds_the_variant_it_names(name):
    from mmpretrain.models import ImageClassifier
    want = EXPECTED[name]
    model = build(Config.fromfile(config_path(f'ablations/{name}')))
    assert isinstance(model, ImageClassifier)
    cvt = model.backbone
    assert isinstance(cvt, CvT) and cvt.out_type == 'cls_token'
    pos = want.get('pos', (False, ) * 3)
    assert tuple(s.pos_embed is not None for s in cvt.stages) == pos
    kernels = [s.patch_embed.proj.kernel_size[0] for s in cvt.stages]
    assert kernels == ([4, 2, 2] if want.get('patch') else [7, 3, 3])
    proj = want.get('proj', ('conv', ) * 3)
    for stage, p in zip(cvt.stages, proj):
        for block in stage.blocks:
            assert (block.attn.conv_kv is None) == (p == 'linear')
            if p == 'conv':
                assert block.attn.conv_kv.conv.stride[0] == want.get('kv', 2)


def generated_batch(n: int, size: int, seed: int):
    """``n`` generated images (uint8 CHW, the synthetic set's drawing) and
    their labels, as mmpretrain's data preprocessor takes them."""
    from mmpretrain.structures import DataSample
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 6, n)
    imgs = [torch.from_numpy(classification_image(rng, int(y), size)
                             ).permute(2, 0, 1).contiguous() for y in labels]
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=imgs, data_samples=samples)


@pytest.mark.parametrize('name', ABLATIONS)
def test_config_trains_at_tiny_scale(name):
    """The config's model with the tiny arch (its options kept) and 6
    classes, trained 3 iterations with the config's own loss, Mixup/CutMix
    and AdamW (fp32) on 32 px generated images: finite losses, every
    trainable parameter updated."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(config_path(f'ablations/{name}'))
    cfg.model.backbone.arch = TINY_DENSE_ARCH
    if cfg.model.backbone.get('pos_embed'):
        cfg.model.backbone.img_size = 32
    cfg.model.head.in_channels = TINY_DENSE_ARCH['embed_dims'][-1]
    cfg.model.head.num_classes = 6
    cfg.data_preprocessor.num_classes = 6
    torch.manual_seed(0)
    model = build(cfg)
    model.init_weights()
    init_default_scope('mmpretrain')
    optim = build_optim_wrapper(
        model, dict(cfg.optim_wrapper, type='OptimWrapper'))
    before = {n: p.detach().clone() for n, p in model.named_parameters()
              if p.requires_grad}
    model.train()
    for it in range(3):
        losses = model.train_step(generated_batch(8, 32, it), optim)
        assert torch.isfinite(losses['loss'])
    unchanged = [n for n, p in model.named_parameters()
                 if p.requires_grad and torch.equal(p, before[n])]
    assert unchanged == []
