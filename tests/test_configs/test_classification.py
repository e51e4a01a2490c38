"""Classification on mmpretrain: every classification config builds an
mmpretrain ImageClassifier; the published classifiers load key for key and
reproduce transformers' logits; the training recipe is the original one
(checked against timm's create_transform and mmpretrain's RandAugment); the
batch augmentations and loss follow timm's semantics; layer-wise lr decay
works through CvT.get_layer_depth; mmpretrain's own tools and APIs run the
configs."""
import glob
import math
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cvt_backbone import CvT
from cvt_backbone.checkpoint import convert_cvt_state_dict
from cvt_backbone.testing import make_hf_cvt

from compare import max_diff
from oracles import hf_to_original_reference
from tiny_configs import CONFIGS, config_path, tiny_cls_config
from tool_runner import run_tool

CLS_CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CONFIGS, '*.py'))
    if Config.fromfile(p).model.get('type') == 'ImageClassifier')


def build(cfg: Config):
    """The config's model, as mmpretrain's Runner builds it."""
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return MODELS.build(model_cfg)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# -- every config ---------------------------------------------------------
def test_the_classification_configs_are_all_found():
    assert {'cvt13_classify.py', 'cvt13_classify_384.py', 'cvt21_classify.py',
            'cvt21_classify_384.py', 'cvtw24_classify_384.py',
            'demo_cvt13_synthetic.py'} <= set(
                CLS_CONFIGS)


@pytest.mark.parametrize('name', CLS_CONFIGS)
def test_config_builds_an_mmpretrain_classifier(name):
    from mmengine.dataset import Compose
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.models import ImageClassifier, LinearClsHead
    cfg = Config.fromfile(config_path(name))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports['imports'] == ['cvt_backbone']
    model = build(cfg)
    assert isinstance(model, ImageClassifier)
    assert isinstance(model.backbone, CvT)
    assert model.backbone.out_type == 'cls_token'
    assert isinstance(model.head, LinearClsHead)
    for loader in ('train_dataloader', 'val_dataloader'):
        init_default_scope('mmpretrain')
        pipeline = Compose(cfg[loader].dataset.pipeline)
        assert len(pipeline.transforms) == len(cfg[loader].dataset.pipeline)
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper')
    init_default_scope('mmpretrain')
    optim = build_optim_wrapper(model, wrapper)
    decay = {id(p): g['weight_decay'] for g in optim.param_groups
             for p in g['params']}
    block = model.backbone.stages[2].blocks[0]
    # the release decays no norm, bias or class token, but does decay the
    # depthwise convs and the Linear weights
    assert decay[id(model.backbone.stages[2].cls_token)] == 0
    assert decay[id(block.attn.kv.bias)] == 0
    assert decay[id(block.norm1.weight)] == 0
    assert decay[id(block.attn.conv_q.bn.weight)] == 0
    assert decay[id(block.attn.q.weight)] > 0
    assert decay[id(block.attn.conv_kv.conv.weight)] > 0


# -- published weights ------------------------------------------------------
@pytest.fixture(scope='module')
def published_1k():
    """transformers' CvT-13 with 1000 classes and QuickGELU: numerically a
    released ImageNet classifier."""
    return make_hf_cvt(num_labels=1000, quick_gelu=True, seed=11)


@pytest.mark.parametrize('fmt', ['huggingface', 'original'])
def test_published_classifier_loads_key_for_key_and_matches(
        published_1k, fmt, tmp_path):
    from mmengine.runner import load_checkpoint

    from cvt_backbone.checkpoint import convert_checkpoint
    state = published_1k.state_dict()
    if fmt == 'original':
        state = hf_to_original_reference(state)
    torch.save(state, tmp_path / 'published.pth')
    model = build(Config.fromfile(config_path('cvt13_classify.py'))).eval()
    assert n_params(model) == 19_997_480
    converted, got_fmt = convert_cvt_state_dict(state)
    assert got_fmt == fmt
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert missing == [] and unexpected == []
    # what load_from does with a converted file (mmengine's loader, strict)
    convert_checkpoint(str(tmp_path / 'published.pth'),
                       str(tmp_path / 'converted.pth'))
    load_checkpoint(model, str(tmp_path / 'converted.pth'), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = published_1k(x).logits
        got = model(x, mode='tensor')
    assert max_diff(got, want) <= 1e-4
    assert want.std() > 0.01


# -- the recipe against timm ------------------------------------------------
# timm's op names -> mmpretrain's RandAugment policies (type, direction)
TIMM_TO_MMPRETRAIN = {
    'AutoContrast': ('AutoContrast', None), 'Equalize': ('Equalize', None),
    'Invert': ('Invert', None), 'Rotate': ('Rotate', None),
    'PosterizeIncreasing': ('Posterize', None),
    'SolarizeIncreasing': ('Solarize', None),
    'SolarizeAdd': ('SolarizeAdd', None),
    'ColorIncreasing': ('ColorTransform', None),
    'ContrastIncreasing': ('Contrast', None),
    'BrightnessIncreasing': ('Brightness', None),
    'SharpnessIncreasing': ('Sharpness', None),
    'ShearX': ('Shear', 'horizontal'), 'ShearY': ('Shear', 'vertical'),
    'TranslateXRel': ('Translate', 'horizontal'),
    'TranslateYRel': ('Translate', 'vertical'),
}


def timm_magnitude(op, level: float) -> float:
    """The argument timm's op gets at ``level`` (sign removed; enhance ops
    give ``1 +- m``, reported as ``m``)."""
    value = op.level_fn(level, op.hparams)[0]
    if op.name.endswith('Increasing') and op.name[:-10] in (
            'Color', 'Contrast', 'Brightness', 'Sharpness'):
        value = value - 1
    return abs(value)


def timm_train(size):
    from timm.data import create_transform
    return create_transform(size, is_training=True,
                            auto_augment='rand-m9-mstd0.5-inc1',
                            color_jitter=0.4, re_prob=0.25, re_mode='pixel',
                            re_count=1, interpolation='bicubic').transforms


def mmpretrain_base(transform) -> str:
    """The mmpretrain (or mmcv) transform a transform is, or subclasses:
    this project's faster ones keep the semantics of the one they
    replace."""
    return next(c.__name__ for c in type(transform).__mro__
                if c.__module__.startswith(('mmpretrain.', 'mmcv.')))


@pytest.mark.parametrize('name,size', [('cvt13_classify.py', 224),
                                       ('cvt13_classify_384.py', 384),
                                       ('cvt21_classify.py', 224),
                                       ('cvt21_classify_384.py', 384),
                                       ('cvtw24_classify_384.py', 384)])
def test_training_pipeline_is_timms_create_transform(name, size):
    """The release called timm's create_transform with rand-m9-mstd0.5-inc1
    and colour jitter 0.4; timm then applies no colour jitter. The configs
    run this project's faster transforms, each an mmpretrain transform with
    the same arguments (decoding fused with the crop)."""
    from mmpretrain.registry import TRANSFORMS
    cfg = Config.fromfile(config_path(name))
    steps = cfg.train_dataloader.dataset.pipeline
    pipeline = {t['type']: t for t in steps}
    timm = {type(t).__name__: t for t in timm_train(size)}
    assert 'ColorJitter' not in timm and 'ColorJitter' not in pipeline
    assert [t['type'] for t in steps] == [
        'DecodeRandomResizedCrop', 'RandomFlip', 'FastRandAugment',
        'FastRandomErasing', 'FastPackInputs']
    init_default_scope('mmpretrain')
    assert [mmpretrain_base(TRANSFORMS.build(t)) for t in steps] == [
        'RandomResizedCrop', 'RandomFlip', 'RandAugment', 'RandomErasing',
        'PackInputs']

    crop, ref = pipeline['DecodeRandomResizedCrop'], timm[
        'RandomResizedCropAndInterpolation']
    assert (crop['scale'], crop['scale']) == ref.size
    assert tuple(crop.get('crop_ratio_range', (0.08, 1.0))) == ref.scale
    assert tuple(crop.get('aspect_ratio_range',
                          (3 / 4, 4 / 3))) == pytest.approx(ref.ratio)
    assert crop['interpolation'] == ref.interpolation.value == 'bicubic'
    assert pipeline['RandomFlip']['prob'] == timm['RandomHorizontalFlip'].p
    assert pipeline['RandomFlip']['direction'] == 'horizontal'

    ra = TRANSFORMS.build(pipeline['FastRandAugment'])
    ref = timm['RandAugment']
    assert ra.num_policies == ref.num_layers == 2
    assert ref.choice_weights is None  # uniform choice, as mmpretrain's
    assert len(ra.transforms) == len(ref.ops) == 15
    ours = {}
    for t in ra.transforms:
        assert type(t).__name__.startswith('Fast')  # the uint8 ops
        ours[(mmpretrain_base(t), getattr(t, 'direction', None))] = t
    for op in ref.ops:
        t = ours[TIMM_TO_MMPRETRAIN[op.name]]
        assert t.prob == op.prob == 0.5
        if op.level_fn is None:  # no magnitude
            continue
        assert t.magnitude_level == op.magnitude == 9
        assert t.magnitude_std == op.hparams['magnitude_std'] == 0.5
        assert t.total_level == 10
        lo, hi = t.magnitude_range
        assert (lo, hi) == pytest.approx(
            (timm_magnitude(op, 0), timm_magnitude(op, 10))), op.name
        if hasattr(t, 'random_negative_prob') and op.name in (
                'Rotate', 'ShearX', 'ShearY', 'TranslateXRel',
                'TranslateYRel', 'ColorIncreasing', 'ContrastIncreasing',
                'BrightnessIncreasing', 'SharpnessIncreasing'):
            assert t.random_negative_prob == 0.5  # timm's random sign
        if hasattr(t, 'pad_val'):  # the ImageNet mean, BGR here, RGB there
            assert tuple(t.pad_val)[::-1] == op.hparams['img_mean']
        if hasattr(t, 'interpolation'):
            assert t.interpolation == 'bicubic'

    erase, ref = pipeline['FastRandomErasing'], timm['RandomErasing']
    assert erase['erase_prob'] == ref.probability
    assert (erase['min_area_ratio'], erase['max_area_ratio']) == \
        pytest.approx((ref.min_area, ref.max_area))
    # timm 'pixel': N(0, 1) per pixel after normalisation, i.e. the ImageNet
    # mean and std per pixel before it
    assert ref.mode == 'pixel' and erase['mode'] == 'rand'
    mean = cfg.data_preprocessor['mean']
    std = cfg.data_preprocessor['std']
    assert list(erase['fill_color']) == mean[::-1]
    assert list(erase['fill_std']) == std[::-1]
    assert ref.min_count == ref.max_count == 1


@pytest.mark.parametrize('name,size', [('cvt13_classify.py', 224),
                                       ('cvt13_classify_384.py', 384)])
def test_test_pipeline_is_the_papers(name, size):
    """224: resize the short side to 256, centre crop 224; 384: resize to
    384 x 384, no crop (CENTER_CROP: False in the release), bicubic."""
    from timm.data import create_transform
    cfg = Config.fromfile(config_path(name))
    steps = cfg.test_dataloader.dataset.pipeline
    if size == 224:
        ref = create_transform(224, is_training=False, crop_pct=0.875,
                               interpolation='bicubic').transforms
        assert [t['type'] for t in steps] == [
            'LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs']
        assert (steps[1]['scale'], steps[1]['edge']) == (ref[0].size, 'short')
        assert steps[2]['crop_size'] == ref[1].size[0] == 224
    else:
        ref = create_transform(384, is_training=False, crop_pct=1.0,
                               crop_mode='squash',
                               interpolation='bicubic').transforms
        assert [t['type'] for t in steps] == [
            'LoadImageFromFile', 'Resize', 'PackInputs']
        assert (steps[1]['scale'], steps[1]['scale']) == tuple(ref[0].size)
        assert not steps[1].get('keep_ratio', False)
    assert steps[1]['interpolation'] == ref[0].interpolation.value


def test_cvt13_and_cvt21_optimisation_is_the_papers():
    cfg = Config.fromfile(config_path('cvt13_classify.py'))
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-3, 0.05)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.auto_scale_lr.base_batch_size == 2048
    warm, cos = cfg.param_scheduler
    assert warm.end == 5 and math.isclose(warm.start_factor * opt.lr, 1e-6)
    assert (cos.type, cos.eta_min, cos.begin) == ('CosineAnnealingLR', 1e-5,
                                                  5)
    assert cfg.train_cfg.max_epochs == 300
    cfg21 = Config.fromfile(config_path('cvt21_classify.py'))
    opt21 = cfg21.optim_wrapper.optimizer
    assert (opt21.lr, opt21.weight_decay) == (1e-3, 0.1)
    assert cfg21.auto_scale_lr.base_batch_size == 1024
    assert math.isclose(cfg21.param_scheduler[0].start_factor * opt21.lr,
                        1e-6)
    assert cfg21.model.backbone.arch == '21'


# -- batch augmentation and loss: timm's semantics --------------------------
def test_mixup_cutmix_and_label_smoothing_follow_timm():
    """Mixup 0.8 / CutMix 1.0, one of them per batch with probability 0.5,
    and the loss is timm's SoftTargetCrossEntropy on the mixed targets
    smoothed by 0.1 (timm's mixup_target)."""
    from timm.loss import SoftTargetCrossEntropy
    cfg = Config.fromfile(config_path('cvt13_classify.py'))
    augments = cfg.model.train_cfg.augments
    assert [(a.type, a.alpha) for a in augments] == [('Mixup', 0.8),
                                                     ('CutMix', 1.0)]
    assert cfg.model.head.loss == dict(type='LabelSmoothLoss',
                                       label_smooth_val=0.1, mode='original')
    cfg.model.backbone.arch = dict(embed_dims=[8, 16, 32], depths=[1, 1, 1],
                                   num_heads=[1, 1, 2])
    cfg.model.head.in_channels = 32
    model = build(cfg)
    batch_aug = model.data_preprocessor.batch_augments
    assert batch_aug.probs is None or list(batch_aug.probs) == [0.5, 0.5]
    from mmpretrain.structures import DataSample
    np.random.seed(0)
    torch.manual_seed(0)
    kinds = set()
    for _ in range(6):
        samples = [DataSample().set_gt_label(i) for i in (3, 7, 1, 0)]
        data = dict(inputs=[torch.randint(0, 255, (3, 32, 32),
                                          dtype=torch.uint8)
                            for _ in samples], data_samples=samples)
        data = model.data_preprocessor(data, training=True)
        scores = torch.stack([s.gt_score for s in data['data_samples']])
        # a convex mix of exactly two one-hot labels per sample
        assert torch.allclose(scores.sum(1), torch.ones(4))
        assert ((scores > 0).sum(1) <= 2).all()
        feats = model.extract_feat(data['inputs'])
        logits = model.head(feats)
        loss = model.head.loss(feats, data['data_samples'])['loss']
        want = SoftTargetCrossEntropy()(logits, scores * 0.9 + 0.1 / 1000)
        assert loss.item() == pytest.approx(want.item(), rel=1e-5)
        lam = scores.max(1).values.min().item()
        kinds.add(lam)
    assert len(kinds) > 1  # a new lambda per batch


# -- layer-wise lr decay ------------------------------------------------------
def test_384_finetune_decays_the_lr_per_layer():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(config_path('cvt13_classify_384.py'))
    assert cfg.optim_wrapper.constructor == \
        'LearningRateDecayOptimWrapperConstructor'
    rate = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate
    model = build(cfg)
    init_default_scope('mmpretrain')
    optim = build_optim_wrapper(model, dict(cfg.optim_wrapper,
                                            type='OptimWrapper'))
    groups = optim.optimizer.param_groups  # without mmengine's placeholder
    lr = {g['param_name']: g['lr'] for g in groups}
    base = cfg.optim_wrapper.optimizer.lr
    # CvT-13: 15 depths; the head and final norm get the full lr
    assert lr['head.fc.weight'] == pytest.approx(base)
    assert lr['backbone.cls_norm.weight'] == pytest.approx(base)
    assert lr['backbone.stages.0.patch_embed.proj.weight'] == \
        pytest.approx(base * rate**14)
    assert lr['backbone.stages.2.blocks.9.mlp.fc1.weight'] == \
        pytest.approx(base * rate)
    assert lr['backbone.stages.1.blocks.0.attn.q.weight'] == \
        pytest.approx(base * rate**12)
    wd = {g['param_name']: g['weight_decay'] for g in groups}
    assert wd['backbone.stages.2.cls_token'] == 0


# -- mmpretrain's own tools and APIs -----------------------------------------
def mmpretrain_tool(name: str) -> str:
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', name)


@pytest.mark.slow
def test_mmpretrain_tools_and_apis_run_the_configs(tiny_cls_data, tmp_path):
    """mmpretrain's tools/train.py and tools/test.py train and evaluate a
    config of this project; get_model and ImageClassificationInferencer
    build and run it."""
    cfg = tiny_cls_config(tmp_path / 'tiny.py', tiny_cls_data, max_epochs=2)
    work = tmp_path / 'work'
    res = run_tool([sys.executable, mmpretrain_tool('train.py'), cfg,
                    '--work-dir', str(work)])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    ckpt = work / 'epoch_2.pth'
    assert ckpt.is_file()
    res = run_tool([sys.executable, mmpretrain_tool('test.py'), cfg,
                    str(ckpt), '--work-dir', str(tmp_path / 'test')])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'accuracy/top1' in res.stdout

    from mmpretrain import ImageClassificationInferencer, get_model
    model = get_model(cfg, pretrained=str(ckpt))
    assert isinstance(model.backbone, CvT)
    inferencer = ImageClassificationInferencer(model=cfg,
                                               pretrained=str(ckpt))
    image = osp.join(tiny_cls_data, 'val', 'ring', 'ring_00000.png')
    result = inferencer(image)[0]
    assert result['pred_class'] in ('circle', 'square', 'triangle', 'ring',
                                    'stripes', 'checker')
    assert 0 <= result['pred_score'] <= 1
