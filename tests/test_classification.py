"""Classification on mmengine: dataset layouts and errors, transforms, the
batch augmentations, the head's loss, the metric, the classifier against the
transformers oracle, and every classification config."""
import glob
import math
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, TRANSFORMS
from mmengine.structures import BaseDataElement

from conftest import make_hf_classifier
from cvt_backbone import (Accuracy, ClsDataPreprocessor, CvTClsHead,
                          ImageNetFolder, RandAugment, convert_state_dict)
from cvt_backbone.classification.data import _OPS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLS_CONFIGS = sorted(
    p for p in glob.glob(os.path.join(ROOT, 'configs', '*.py'))
    if 'CvTClassifier' in Config.fromfile(p).model.get('type', ''))


def write_images(folder, n, value=128, size=16):
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        cv2.imwrite(os.path.join(folder, f'{i}.png'),
                    np.full((size, size, 3), value + i, np.uint8))


@pytest.fixture
def folder_set(tmp_path):
    for name in ('n02', 'n01'):
        write_images(str(tmp_path / 'train' / name), 3)
    return tmp_path


# -- dataset ------------------------------------------------------------------
def test_folder_layout(folder_set):
    ds = ImageNetFolder(str(folder_set), data_prefix='train', lazy_init=False)
    assert ds.metainfo['classes'] == ('n01', 'n02')  # sorted folders
    assert len(ds) == 6
    labels = {os.path.basename(os.path.dirname(d['img_path'])): d['gt_label']
              for d in map(ds.get_data_info, range(len(ds)))}
    assert labels == {'n01': 0, 'n02': 1}
    # a class list sets the label order
    ds = ImageNetFolder(str(folder_set), data_prefix='train',
                        classes=['n02', 'n01'])
    assert ds.get_data_info(0)['gt_label'] == 0
    assert 'n02' in ds.get_data_info(0)['img_path']
    with pytest.raises(ValueError, match='do not match'):
        ImageNetFolder(str(folder_set), data_prefix='train',
                       classes=['n01', 'n03'])


def test_annotation_file_layout(folder_set):
    (folder_set / 'meta').mkdir()
    (folder_set / 'meta' / 'train.txt').write_text(
        'n01/0.png 0\nn02/1.png 1\n\nn02/2.png 1\n')
    (folder_set / 'classes.txt').write_text('tench\ngoldfish\n')
    ds = ImageNetFolder(str(folder_set), data_prefix='train',
                        ann_file='meta/train.txt', classes='classes.txt')
    assert len(ds) == 3 and ds.metainfo['classes'] == ('tench', 'goldfish')
    assert ds.get_data_info(2)['gt_label'] == 1
    (folder_set / 'meta' / 'bad.txt').write_text('n01/0.png zero\n')
    with pytest.raises(ValueError, match='bad.txt:1'):
        ImageNetFolder(str(folder_set), data_prefix='train',
                       ann_file='meta/bad.txt')
    (folder_set / 'meta' / 'big.txt').write_text('n01/0.png 5\n')
    with pytest.raises(ValueError, match=r'labels \[5\] are outside'):
        ImageNetFolder(str(folder_set), data_prefix='train',
                       ann_file='meta/big.txt', classes='classes.txt')


def test_missing_root_and_empty_class_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'(?s)does not exist.*'
                       r'<class_name>.*make demo'):
        ImageNetFolder(str(tmp_path / 'imagenet'), data_prefix='train')
    write_images(str(tmp_path / 'train' / 'a'), 2)
    os.makedirs(tmp_path / 'train' / 'b')
    with pytest.raises(ValueError, match=r"without images.*train/b"):
        ImageNetFolder(str(tmp_path), data_prefix='train')


def test_unreadable_image_is_named_and_skipped(folder_set, capsys):
    bad = folder_set / 'train' / 'n01' / '9.png'
    bad.write_bytes(b'not a png')
    from mmengine.logging import MMLogger
    messages = []
    import logging
    handler = logging.Handler()
    handler.emit = lambda r: messages.append(r.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    try:
        ds = ImageNetFolder(str(folder_set), data_prefix='train',
                            pipeline=[dict(type='LoadImage'),
                                      dict(type='PackClsInputs')])
        idx = [i for i, d in enumerate(map(ds.get_data_info, range(len(ds))))
               if d['img_path'].endswith('9.png')][0]
        item = ds[idx]  # training mode: another sample comes back
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    assert item['inputs'].shape == (3, 16, 16)
    assert any('9.png' in m and 'unreadable' in m for m in messages)


# -- transforms ---------------------------------------------------------------
def test_random_resized_crop_and_pack():
    img = np.random.randint(0, 255, (40, 60, 3), np.uint8)
    rrc = TRANSFORMS.build(dict(type='RandomResizedCrop', size=24))
    pack = TRANSFORMS.build(dict(type='PackClsInputs'))
    for _ in range(20):
        out = rrc.transform(dict(img=img.copy()))
        assert out['img'].shape == (24, 24, 3)
    packed = pack.transform(dict(img=out['img'], gt_label=3, img_path='x'))
    assert packed['inputs'].shape == (3, 24, 24)
    assert packed['inputs'].dtype == torch.uint8
    assert int(packed['data_samples'].gt_label) == 3


@pytest.mark.parametrize('op', sorted(_OPS))
def test_randaugment_ops(op):
    rng = np.random.RandomState(0)
    img = rng.randint(0, 255, (32, 48, 3)).astype(np.uint8)
    out = RandAugment(num_ops=1, magnitude=9, magnitude_std=0, op_prob=1.,
                      ops=[op]).transform(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img), f'{op} left the image unchanged'


def test_randaugment_and_color_jitter_config():
    with pytest.raises(ValueError, match='unknown RandAugment ops'):
        RandAugment(ops=['Blur'])
    assert len(_OPS) == 15  # timm's "increasing" op set
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.4,
                                   contrast=0.4, saturation=0.4))
    img = np.random.randint(0, 255, (16, 16, 3), np.uint8)
    assert jitter.transform(dict(img=img))['img'].shape == img.shape


# -- batch augmentation and loss ---------------------------------------------
def samples(labels):
    out = []
    for lab in labels:
        s = BaseDataElement()
        s.gt_label = torch.tensor(lab)
        out.append(s)
    return out


def batch(n=4, size=32):
    return dict(inputs=[torch.randint(0, 255, (3, size, size), dtype=torch.uint8)
                        for _ in range(n)], data_samples=samples(range(n)))


def test_mixup_matches_timm_semantics():
    pre = ClsDataPreprocessor(num_classes=5, mixup_alpha=0.8, cutmix_alpha=0.,
                              mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=False)
    np.random.seed(1)
    data = batch()
    plain = torch.stack(data['inputs']).float()
    out = pre(data, training=True)
    scores = torch.stack([s.gt_score for s in out['data_samples']])
    lam = scores[0, 0].item()  # sample 0 has label 0, its partner label 3
    assert 0 < lam < 1
    assert torch.allclose(out['inputs'], lam * plain + (1 - lam) *
                          plain.flip(0), atol=1e-4)
    want = lam * F.one_hot(torch.arange(4), 5) + (1 - lam) * F.one_hot(
        torch.arange(4).flip(0), 5)
    assert torch.allclose(scores, want.float(), atol=1e-6)
    # not in evaluation
    data = batch()
    out = pre(data, training=False)
    assert all('gt_score' not in s for s in out['data_samples'])


def test_cutmix_lambda_is_the_pasted_area():
    pre = ClsDataPreprocessor(num_classes=4, mixup_alpha=0., cutmix_alpha=1.,
                              mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=False)
    for seed in range(5):
        np.random.seed(seed)
        data = batch(size=40)
        plain = torch.stack(data['inputs']).float()
        out = pre(data, training=True)
        pasted = (out['inputs'][0] != plain[0]).any(0) & \
            (plain[0] != plain[3]).any(0)
        lam = out['data_samples'][0].gt_score[0].item()
        changed = (out['inputs'][0] == plain[3]).all(0) & \
            (plain[0] != plain[3]).any(0)
        assert torch.equal(pasted, changed)  # only partner pixels pasted
        assert math.isclose(1 - lam, changed.float().mean().item(),
                            abs_tol=0.02)


def test_random_erasing_noise_box():
    pre = ClsDataPreprocessor(erasing_prob=1., mean=[0, 0, 0], std=[1, 1, 1],
                              bgr_to_rgb=False)
    data = dict(inputs=[torch.zeros(3, 48, 48, dtype=torch.uint8)] * 3,
                data_samples=samples([0, 1, 2]))
    out = pre(data, training=True)['inputs']
    for img in out:
        erased = (img != 0).any(0).float().mean().item()
        assert 0.015 < erased < 0.34  # one box of 2-33 % of the area
    assert torch.equal(pre(dict(inputs=[torch.zeros(3, 8, 8,
                                                    dtype=torch.uint8)]),
                           training=False)['inputs'], torch.zeros(1, 3, 8, 8))


def test_head_loss_is_smoothed_soft_target_cross_entropy():
    head = CvTClsHead(num_classes=5, in_channels=8, label_smoothing=0.1)
    feats = (torch.randn(4, 8), )
    logits = head(feats)
    got = head.loss(feats, samples([0, 2, 4, 1]))['loss']
    want = F.cross_entropy(logits, torch.tensor([0, 2, 4, 1]),
                           label_smoothing=0.1)
    assert torch.allclose(got, want, atol=1e-6)
    soft = samples([0, 0, 0, 0])
    for s in soft:
        s.gt_score = torch.tensor([.7, .3, 0, 0, 0])
    y = torch.tensor([.7, .3, 0, 0, 0]) * 0.9 + 0.02
    want = -(y * F.log_softmax(logits, -1)).sum(-1).mean()
    assert torch.allclose(head.loss(feats, soft)['loss'], want, atol=1e-6)
    with pytest.raises(ValueError, match='labels must lie'):
        head.loss(feats, samples([0, 1, 2, 7]))


def test_accuracy_metric():
    metric = Accuracy(topk=(1, 2, 10))
    scores = torch.tensor([[.1, .7, .2], [.5, .3, .2], [.2, .3, .5],
                           [.6, .1, .3]])
    preds = [dict(pred_score=s, gt_label=torch.tensor(l))
             for s, l in zip(scores, [1, 1, 0, 2])]
    metric.process(None, preds)
    res = metric.compute_metrics(metric.results)
    assert res == {'top1': 25.0, 'top2': 75.0, 'top10': 100.0}


# -- the classifier and the configs --------------------------------------------
def test_classifier_reproduces_published_logits():
    ref = make_hf_classifier(num_labels=9, quick_gelu=True, seed=4)
    converted, _ = convert_state_dict(ref.state_dict())
    model = MODELS.build(dict(
        type='CvTClassifier', backbone=dict(type='CvT', arch='13'),
        head=dict(type='CvTClsHead', num_classes=9, in_channels=384),
        data_preprocessor=dict(type='ClsDataPreprocessor')))
    model.load_state_dict(converted, strict=True)
    model.eval()
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        assert (model(x) - ref(x).logits).abs().max() <= 1e-4
        preds = model(x, samples([0, 1]), mode='predict')
    assert preds[0].pred_score.shape == (9, )
    assert torch.allclose(preds[0].pred_score.sum(), torch.tensor(1.))


@pytest.mark.parametrize('path', CLS_CONFIGS,
                         ids=[os.path.basename(p) for p in CLS_CONFIGS])
def test_classification_configs_build(path):
    from mmengine.dataset import Compose
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert model.backbone.out_type == 'cls_token'
    for loader in ('train_dataloader', 'val_dataloader'):
        pipeline = Compose(cfg[loader].dataset.pipeline)
        assert len(pipeline.transforms) == len(cfg[loader].dataset.pipeline)
    from mmengine.optim import build_optim_wrapper
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper')
    optim = build_optim_wrapper(model, wrapper)
    decay = {id(p): g['weight_decay'] for g in optim.param_groups
             for p in g['params']}
    cls_token = model.backbone.stages[2].cls_token
    assert decay[id(cls_token)] == 0
    assert decay[id(model.backbone.stages[2].blocks[0].attn.kv.bias)] == 0
    assert decay[id(model.backbone.stages[2].blocks[0].norm1.weight)] == 0
    assert decay[id(model.backbone.stages[2].blocks[0].attn.q.weight)] > 0


def test_cvt13_recipe_is_the_papers():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'cvt13_classify.py'))
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-3, 0.05)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.auto_scale_lr.base_batch_size == 2048
    warm, cos = cfg.param_scheduler
    assert warm.end == 5 and math.isclose(warm.start_factor * opt.lr, 1e-6)
    assert cos.eta_min == 1e-5 and cos.end == 300
    assert cfg.train_cfg.max_epochs == 300
    pre = cfg.model.data_preprocessor
    assert (pre.mixup_alpha, pre.cutmix_alpha, pre.switch_prob,
            pre.erasing_prob) == (0.8, 1.0, 0.5, 0.25)
    assert cfg.model.head.label_smoothing == 0.1
    names = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert names == ['LoadImage', 'RandomResizedCrop', 'RandomFlip',
                     'RandAugment', 'ColorJitter', 'PackClsInputs']
    cfg21 = Config.fromfile(os.path.join(ROOT, 'configs', 'cvt21_classify.py'))
    assert cfg21.optim_wrapper.optimizer.weight_decay == 0.1
    assert cfg21.model.backbone.arch == '21'
