"""The transfer recipes of the paper's Table 4 (configs/transfer/): every
config builds the recipe the paper states (384, SGD with momentum 0.9,
batch 512, 10,000 / 500 iterations) from the published ImageNet-22k model
of its arch; the schedule is a linear warm-up then cosine decay (checked
against the closed form); a CIFAR image (mmpretrain holds it as RGB) and
the same image as a file reach the model alike; and each dataset's config
trains end to end for a few iterations on a generated set in that
dataset's own on-disk format, with the 22k weights downloaded by zoo name
from a stand-in Hugging Face Hub (a tiny CvT served under the published
name: the load gives transformers' outputs)."""
import glob
import math
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cvt_backbone.checkpoint import find_model
from cvt_backbone.testing import (
    TINY_DENSE_ARCH,
    FakeHub,
    TransferSpec,
    generate_transfer_set,
    hub_env,
    make_hf_cvt,
)

from compare import max_diff
from tiny_configs import CONFIGS, config_path
from tool_runner import run_tool

TRANSFER = sorted(osp.relpath(p, CONFIGS) for p in
                  glob.glob(osp.join(CONFIGS, 'transfer', '*.py')))
ARCHS = {'13': 384, '21': 384, 'w24': 1024}  # arch -> head input width
# dataset -> (mmpretrain dataset type, classes, the paper's step count);
# the class counts are the datasets' own (CIFAR-10/100, the 37 breeds of
# Oxford-IIIT Pets, the 102 flower categories)
DATASETS = {'cifar10': ('CIFAR10', 10, 10_000),
            'cifar100': ('CIFAR100', 100, 10_000),
            'pets': ('OxfordIIITPet', 37, 500),
            'flowers102': ('Flowers102', 102, 500)}


def name_of(arch: str, dataset: str) -> str:
    return f'transfer/cvt{arch}_in22k-pre_{dataset}-384px.py'


def test_every_model_and_dataset_has_a_config():
    assert TRANSFER == sorted(name_of(a, d) for a in ARCHS for d in DATASETS)


@pytest.mark.parametrize('arch', list(ARCHS))
@pytest.mark.parametrize('dataset', list(DATASETS))
def test_config_builds_the_papers_recipe(arch, dataset):
    from mmengine.dataset import Compose
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.models import ImageClassifier
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config_path(name_of(arch, dataset)))
    kind, classes, steps = DATASETS[dataset]
    m = cfg.model
    # from the published ImageNet-22k model of this arch, by zoo name
    spec = find_model(m.backbone.init_cfg.checkpoint)
    assert m.backbone.init_cfg.type == 'Pretrained'
    assert (spec.pretrain, spec.arch, spec.resolution) == \
        ('ImageNet-22k', arch, 384)
    assert m.backbone.arch == arch
    assert (m.head.num_classes, m.head.in_channels) == (classes, ARCHS[arch])
    assert cfg.data_preprocessor.num_classes == classes
    # mmpretrain's dataset, train and test split
    splits = dict(CIFAR10=('train', 'test'), CIFAR100=('train', 'test'),
                  OxfordIIITPet=('trainval', 'test'),
                  Flowers102=('trainval', 'test'))[kind]
    for loader, split in zip(('train_dataloader', 'test_dataloader'),
                             splits):
        assert (cfg[loader].dataset.type, cfg[loader].dataset.split) == \
            (kind, split)
    # SGD, momentum 0.9, batch 512 (64 per GPU x 8), the paper's steps
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.momentum) == ('SGD', 0.9)
    assert cfg.train_dataloader.batch_size * 8 == 512 == \
        cfg.auto_scale_lr.base_batch_size
    assert cfg.train_cfg.by_epoch is False
    assert cfg.train_cfg.max_iters == steps
    assert cfg.param_scheduler[-1].end == steps
    assert cfg.default_hooks.checkpoint.by_epoch is False
    assert steps % cfg.train_cfg.val_interval == 0
    # 384 in and out; no RandAugment or random erasing
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    assert [t['scale'] for t in train if 'RandomResizedCrop' in t['type']] \
        == [384]
    assert [t['scale'] for t in test if t['type'] == 'Resize'] == [384]
    assert not [t for t in train if 'RandAugment' in t['type'] or
                'Erasing' in t['type']]
    # in-memory CIFAR arrays: no file to load
    loads = [t for t in train + test if 'Load' in t['type'] or
             t['type'] == 'DecodeRandomResizedCrop']
    assert (not loads) == kind.startswith('CIFAR')
    init_default_scope('mmpretrain')
    for pipeline in (train, test):
        assert len(Compose(pipeline).transforms) == len(pipeline)
    # the model and its optimiser
    model = MODELS.build(dict(m, data_preprocessor=cfg.data_preprocessor))
    assert isinstance(model, ImageClassifier)
    assert model.head.fc.out_features == classes
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper,
                                              type='OptimWrapper'))
    assert isinstance(wrapper.optimizer, torch.optim.SGD)
    assert wrapper.optimizer.defaults['momentum'] == 0.9


@pytest.mark.parametrize('dataset', ['cifar10', 'pets'])
def test_schedule_is_linear_warmup_then_cosine(dataset):
    """Every iteration's lr, stepped by mmengine's schedulers, against the
    closed form: linear from 1e-3 of the lr at step 0 to the lr at the last
    warm-up step (mmengine's LinearLR ends there), then
    ``lr / 2 * (1 + cos(pi * t / T))`` after the warm-up, down to 0."""
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
    from mmengine.registry import PARAM_SCHEDULERS
    cfg = Config.fromfile(config_path(name_of('13', dataset)))
    steps, warmup = cfg.train_cfg.max_iters, cfg.param_scheduler[0].end
    assert (steps, warmup) == ((10_000, 500) if dataset == 'cifar10'
                               else (500, 100))
    lr = cfg.optim_wrapper.optimizer.lr
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr,
                          momentum=0.9)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=opt))
              for s in cfg.param_scheduler]
    assert [type(s) for s in scheds] == [LinearLR, CosineAnnealingLR]
    got = []
    for _ in range(steps):
        got.append(opt.param_groups[0]['lr'])
        opt.step()
        for s in scheds:
            s.step()
    f0 = 1e-3
    want = [lr * (f0 + (1 - f0) * t / (warmup - 1)) if t < warmup else
            lr / 2 * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup)))
            for t in range(steps)]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    assert max(got) == pytest.approx(lr)


def test_cifar_images_reach_the_model_as_a_file_of_the_same_image_does(
        tmp_path):
    """mmpretrain's CIFAR datasets hold RGB arrays, LoadImageFromFile gives
    BGR: through each config's test pipeline and data preprocessor, one
    image gives the same model input either way (the CIFAR configs do not
    swap the channels a second time)."""
    import cv2
    from mmengine.dataset import Compose, pseudo_collate
    from mmpretrain.registry import MODELS
    rng = np.random.RandomState(0)
    rgb = rng.randint(0, 256, (32, 32, 3)).astype(np.uint8)
    rgb[:16, :, 0] = 255  # a red top half, to make the order matter
    rgb[:16, :, 1:] = 0
    cv2.imwrite(str(tmp_path / 'img.png'), rgb[..., ::-1])
    init_default_scope('mmpretrain')
    inputs = []
    for dataset, results in (('cifar10', dict(img=rgb)),
                             ('pets', dict(img_path=str(tmp_path /
                                                        'img.png')))):
        cfg = Config.fromfile(config_path(name_of('13', dataset)))
        packed = Compose(cfg.test_dataloader.dataset.pipeline)(
            dict(results, gt_label=0))
        pre = MODELS.build(dict(cfg.data_preprocessor,
                                type='ClsDataPreprocessor'))
        inputs.append(pre(pseudo_collate([packed]))['inputs'])
    assert inputs[0].shape == (1, 3, 384, 384)
    assert max_diff(inputs[0], inputs[1]) == 0
    # and it is RGB with ImageNet's mean/std: channel 0 is red
    red = (255 - 123.675) / 58.395
    assert inputs[0][0, 0, 20:150, 20:-20].mean().item() == \
        pytest.approx(red, abs=0.05)


# -- end to end -------------------------------------------------------------
# Runs in a subprocess with the stand-in hub's environment: what
# tools/train.py does (build_config + build_runner().train()), with the
# CIFAR checksums of the generated files in place of the release's, and a
# hook that records the backbone's output right after the weights were
# initialised (the 22k model loaded by zoo name), before training.
TRAIN = '''
import sys, torch
from mmengine.hooks import Hook
from cvt_backbone.engine import build_config, build_runner
from cvt_backbone.testing import cifar_checksums
config, work_dir, data_root, dataset, x_path, out_path = sys.argv[1:7]
if dataset.startswith('cifar'):
    import mmpretrain.datasets as datasets
    cls = getattr(datasets, dataset.upper())
    for key, value in cifar_checksums(data_root, dataset).items():
        setattr(cls, key, value)


class Snapshot(Hook):
    def before_train(self, runner):
        backbone = runner.model.backbone
        backbone.eval()
        with torch.no_grad():
            torch.save(backbone(torch.load(x_path))[0], out_path)
        backbone.train()


runner = build_runner(build_config(config, work_dir=work_dir))
runner.register_hook(Snapshot(), 'LOWEST')
runner.train()
'''

ITERS = 3
# the tiny CvT of these runs; transformers indexes its drop-path list by
# stage, so depth i needs > i
TINY = dict(TINY_DENSE_ARCH, depths=[1, 2, 3])


def tiny_transfer_config(path, config: str, data_root: str) -> str:
    """The transfer config with the tiny CvT (the recipe, the dataset and
    the zoo name unchanged), a few iterations of batch 2, no workers."""
    arch = dict(TINY, _delete_=True)
    loader = dict(num_workers=0, persistent_workers=False, pin_memory=False)
    text = f"""
_base_ = [{config_path(config)!r}]
model = dict(backbone=dict(arch={arch!r}),
             head=dict(in_channels={TINY['embed_dims'][-1]}))
train_dataloader = dict(batch_size=2, dataset=dict(data_root={data_root!r}),
                        **{loader!r})
val_dataloader = dict(batch_size=5, dataset=dict(data_root={data_root!r}),
                      **{loader!r})
test_dataloader = val_dataloader
train_cfg = dict(max_iters={ITERS}, val_interval={ITERS})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ITERS}))
randomness = dict(seed=0)
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


@pytest.fixture(scope='module')
def stand_in_22k(tmp_path_factory):
    """A tiny transformers CvT (QuickGELU: numerically the released model)
    saved as a Hugging Face folder, served as microsoft/cvt-13-384-22k,
    and its final-norm class token on a fixed input."""
    root = tmp_path_factory.mktemp('cvt-13-384-22k')
    hf = make_hf_cvt(arch=TINY, num_labels=1000, quick_gelu=True,
                     seed=22)
    hf.save_pretrained(root / 'hf')
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(4))
    torch.save(x, root / 'x.pt')
    with torch.no_grad():
        cls = hf.layernorm(hf.cvt(x).cls_token_value).reshape(2, -1)
    return dict(root=root, cls=cls)


@pytest.mark.slow
@pytest.mark.parametrize('dataset', list(DATASETS))
def test_config_trains_on_the_datasets_own_format(dataset, stand_in_22k,
                                                  tmp_path):
    data_root = generate_transfer_set(
        str(tmp_path / dataset),
        TransferSpec(dataset=dataset, train_images=6, test_images=5),
        verbose=False)
    config = tiny_transfer_config(tmp_path / 'tiny.py',
                                  name_of('13', dataset), data_root)
    work_dir = tmp_path / 'work'
    with FakeHub() as hub:
        hub.add_repo('microsoft/cvt-13-384-22k', stand_in_22k['root'] / 'hf')
        res = run_tool(
            [sys.executable, '-c', TRAIN, config, str(work_dir), data_root,
             dataset, str(stand_in_22k['root'] / 'x.pt'),
             str(tmp_path / 'cls.pt')],
            env=hub_env(hub.url, tmp_path / 'home'), timeout=300)
        downloads = [p for m, p in hub.requests if m == 'GET']
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    # the 22k weights, by zoo name, from the hub: transformers' outputs
    assert '/microsoft/cvt-13-384-22k/resolve/main/model.safetensors' in \
        downloads
    assert 'from cvt-13-384-22k' in log
    got = torch.load(tmp_path / 'cls.pt')
    assert max_diff(got, stand_in_22k['cls']) <= 1e-4
    # it trained the iterations and evaluated the test split
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log
    assert 'accuracy/top1' in log
    assert osp.isfile(work_dir / f'iter_{ITERS}.pth')
