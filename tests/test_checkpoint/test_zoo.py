"""The model zoo: one table in code, the README's table generated from it,
figures checked against the models, names resolved (and unknown ones
refused) and every config naming its weights through the zoo."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from cvt_backbone import CvT, get_model, list_models
from cvt_backbone.checkpoint import MODEL_ZOO, find_model
from cvt_backbone.checkpoint.zoo import model_zoo_markdown
from cvt_backbone.utils import count_macs, count_params

from tiny_configs import CONFIGS
from tool_runner import ROOT


def test_the_seven_published_models():
    assert list_models() == [
        'cvt-13', 'cvt-13-384', 'cvt-13-384-22k', 'cvt-21', 'cvt-21-384',
        'cvt-21-384-22k', 'cvt-w24-384-22k']
    top1 = {n: s.top1 for n, s in MODEL_ZOO.items()}
    assert top1 == {'cvt-13': 81.6, 'cvt-13-384': 83.0,
                    'cvt-13-384-22k': 83.3, 'cvt-21': 82.5,
                    'cvt-21-384': 83.3, 'cvt-21-384-22k': 84.9,
                    'cvt-w24-384-22k': 87.6}
    for name, spec in MODEL_ZOO.items():
        assert spec.repo == f'microsoft/{name}'
        assert spec.resolution == (384 if '384' in name else 224)
        assert spec.pretrain == ('ImageNet-22k' if '22k' in name else
                                 'ImageNet-1k')


@pytest.mark.parametrize('alias,name', [
    ('cvt-13', 'cvt-13'), ('CvT-13', 'cvt-13'), ('cvt-13_in1k', 'cvt-13'),
    ('microsoft/cvt-21-384', 'cvt-21-384'),
    ('CvT-21-384x384-IN-22k.pth', 'cvt-21-384-22k'),
    ('CvT-w24-384x384-IN-22k', 'cvt-w24-384-22k'),
    ('cvt-w24', 'cvt-w24-384-22k')])
def test_names_and_aliases(alias, name):
    assert find_model(alias).name == name


def test_readme_model_zoo_table_is_generated_from_the_table():
    readme = open(osp.join(ROOT, 'README.md')).read()
    assert model_zoo_markdown() in readme


@pytest.mark.parametrize('arch', ['13', '21', 'w24'])
def test_parameter_counts_are_the_models(arch):
    specs = [s for s in MODEL_ZOO.values() if s.arch == arch]
    model = get_model(specs[0].name)  # no weights: the architecture
    assert {s.params for s in specs} == {count_params(model)}


@pytest.mark.parametrize('name', ['cvt-13', 'cvt-13-384', 'cvt-21',
                                  'cvt-21-384'])
def test_flops_agree_with_the_counter(name):
    """The published GFLOPs (the whole model, as the release computes it)
    within 2% of mmengine's counter on our backbone at that resolution."""
    spec = MODEL_ZOO[name]
    res = spec.resolution
    macs = count_macs(CvT(spec.arch, out_indices=(2, )),
                      torch.zeros(1, 3, res, res))['total']
    assert macs / 1e9 == pytest.approx(spec.gflops, rel=0.02)


def test_get_model_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match=r"neither a model-zoo name \("
                       r"\['cvt-13'"):
        get_model('cvt-99')
    with pytest.raises(ValueError, match='pretrained=True needs a '
                       'model-zoo name'):
        get_model('13', pretrained=True)


def test_get_model_shapes_and_backbone_kwargs():
    classifier = get_model('cvt-21-384', num_classes=5)
    assert classifier.head.num_classes == 5
    assert classifier.backbone.arch['depths'] == [1, 4, 16]
    assert len(classifier._dataset_meta) == 0  # no names for 5 classes
    pipeline = classifier._config.test_dataloader.dataset.pipeline
    assert [t['type'] for t in pipeline] == ['LoadImageFromFile', 'Resize',
                                             'PackInputs']
    backbone = get_model('cvt-13', backbone_only=True, out_indices=(1, 2))
    assert isinstance(backbone, CvT) and backbone.out_indices == (1, 2)
    assert not backbone.training
    with torch.no_grad():
        maps = backbone(torch.zeros(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [192, 384]


def weight_sources(cfg: Config):
    """Every checkpoint a config names: load_from and the backbone's
    Pretrained init_cfg."""
    found = []
    if cfg.get('load_from'):
        found.append(cfg.load_from)
    init = cfg.get('model', {}).get('backbone', {}).get('init_cfg') or {}
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        found.append(init['checkpoint'])
    return found


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(CONFIGS,
                                                           '*.py'))),
                         ids=osp.basename)
def test_every_config_names_its_weights_through_the_zoo(path):
    """Read from the configs, nothing downloaded: each named checkpoint is
    a zoo name, so every config runs with no manual step."""
    cfg = Config.fromfile(path)
    for source in weight_sources(cfg):
        assert find_model(source) is not None, (path, source)
    name = osp.basename(path)
    if name.startswith(('mask-rcnn', 'retinanet', 'upernet', 'fpn')):
        assert weight_sources(cfg), f'{name} starts from no weights'
    if name.endswith('_384.py'):
        assert cfg.load_from, f'{name} fine-tunes from nothing'
