"""The published models in mmpretrain's model index: the metafile is the
zoo's, shipped in the package; importing cvt_backbone registers it once
(whatever the order with mmpretrain's own lazy registration); every name
builds the published architecture through mmpretrain's get_model; and, by
name, mmpretrain's get_model / inferencer / inference_model /
FeatureExtractor load the served published weights (the stand-in hub) and
give transformers' outputs."""
import json
import os.path as osp
import sys

import pytest
import torch

from cvt_backbone.checkpoint import MODEL_ZOO
from cvt_backbone.checkpoint.zoo import model_index_yaml
from cvt_backbone.testing import FakeHub, hub_env

from compare import max_diff
from published_model import serve_published
from tool_runner import ROOT, run_tool

NAMES = {
    'cvt-13_3rdparty_in1k': 'cvt-13',
    'cvt-13_3rdparty_in1k-384px': 'cvt-13-384',
    'cvt-13_3rdparty_in22k-pre_in1k-384px': 'cvt-13-384-22k',
    'cvt-21_3rdparty_in1k': 'cvt-21',
    'cvt-21_3rdparty_in1k-384px': 'cvt-21-384',
    'cvt-21_3rdparty_in22k-pre_in1k-384px': 'cvt-21-384-22k',
    'cvt-w24_3rdparty_in22k-pre_in1k-384px': 'cvt-w24-384-22k',
}


def test_metafile_is_the_zoo_and_shipped_in_the_package():
    with open(osp.join(ROOT, 'configs', 'metafile.yml')) as f:
        assert f.read() == model_index_yaml()
    mim = osp.join(ROOT, 'cvt_backbone', '.mim')
    assert osp.samefile(osp.join(mim, 'model-index.yml'),
                        osp.join(ROOT, 'model-index.yml'))
    assert osp.samefile(osp.join(mim, 'configs'), osp.join(ROOT, 'configs'))
    assert {s.mmpretrain_name: s.name for s in MODEL_ZOO.values()} == NAMES


# Runs in a fresh process: cvt_backbone first (the names are registered
# once mmpretrain's model hub is imported), a second import and a second
# registration, then mmpretrain's own lazy registration.
REGISTER = '''
import importlib, json, sys
import cvt_backbone
importlib.reload(cvt_backbone)
import mmpretrain
from cvt_backbone.apis.model_index import register_mmpretrain_models
again = register_mmpretrain_models()
names = mmpretrain.list_models('cvt*')
own = mmpretrain.list_models('resnet50_8xb32_in1k')
meta = mmpretrain.apis.ModelHub.get(names[0])
json.dump(dict(names=names, again=again, own=own, weights=meta.weights,
               config=meta.config.filename), open(sys.argv[1], 'w'))
'''


def test_registered_once_on_import(tmp_path):
    out = tmp_path / 'out.json'
    res = run_tool([sys.executable, '-c', REGISTER, str(out)], timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got['names'] == sorted(NAMES)
    assert got['again'] is False
    assert got['own'] == ['resnet50_8xb32_in1k']
    assert got['weights'] == \
        'https://huggingface.co/microsoft/cvt-13/resolve/main/pytorch_model.bin'
    assert got['config'].endswith(osp.join('.mim', 'configs',
                                           'cvt13_classify.py'))


@pytest.mark.parametrize('name', sorted(NAMES))
def test_get_model_by_name_builds_the_published_model(name):
    """mmpretrain.get_model(name) (no weights): the parameter count of the
    zoo's published model and, for CvT-13/21, of transformers' model built
    from the same arch; the published test pipeline's resolution."""
    import mmpretrain
    import transformers

    import cvt_backbone  # noqa: F401  (registers the names)
    spec = MODEL_ZOO[NAMES[name]]
    model = mmpretrain.get_model(name)
    params = sum(p.numel() for p in model.parameters())
    assert params == spec.params
    if spec.arch != 'w24':
        arch = model.backbone.arch
        hf = transformers.CvtForImageClassification(transformers.CvtConfig(
            embed_dim=arch['embed_dims'], depth=arch['depths'],
            num_heads=arch['num_heads'], num_labels=1000))
        assert params == sum(p.numel() for p in hf.parameters())
    steps = [t['type'] for t in model._config.test_dataloader.dataset.pipeline]
    if spec.resolution == 224:
        assert steps[1:3] == ['ResizeEdge', 'CenterCrop']
    else:
        assert steps[1] == 'Resize' and \
            model._config.test_dataloader.dataset.pipeline[1].scale == 384


# Runs in a subprocess with the stand-in hub's environment: every
# mmpretrain entry point by name, the published weights downloaded and
# converted through cvt_backbone's scheme.
BY_NAME = '''
import sys, torch
import cvt_backbone
from mmpretrain import (FeatureExtractor, ImageClassificationInferencer,
                        get_model, inference_model)
name, x_path, img, out_path = sys.argv[1:]
x = torch.load(x_path)
model = get_model(name, pretrained=True)
out = {}
with torch.no_grad():
    out['logits'] = model(x, mode='tensor')
out['classes'] = len(model._dataset_meta['classes'])
res = ImageClassificationInferencer(name)(img)[0]
out['inferencer'] = torch.as_tensor(res['pred_scores'])
out['inference_model'] = torch.as_tensor(
    inference_model(name, img)['pred_scores'])
out['features'] = FeatureExtractor(name)(img)[0][0]
torch.save(out, out_path)
'''


@pytest.mark.slow
def test_pretrained_by_name_is_the_published_model(published, tmp_path):
    """get_model('cvt-13_3rdparty_in1k', pretrained=True) loads the served
    microsoft/cvt-13 (Hugging Face layout, converted on the way): its
    logits are transformers'; the inferencer, inference_model and
    FeatureExtractor by name give transformers' scores and class-token
    features on an image preprocessed by mmpretrain's own pipeline."""
    import numpy as np
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmpretrain.registry import TRANSFORMS
    from PIL import Image
    img = tmp_path / 'img.png'
    Image.fromarray(np.random.default_rng(1).integers(
        0, 256, (240, 320, 3), dtype=np.uint8)).save(img)
    out = tmp_path / 'out.pt'
    with FakeHub() as hub:
        serve_published(hub, published)
        res = run_tool([sys.executable, '-c', BY_NAME,
                        'cvt-13_3rdparty_in1k',
                        str(published['root'] / 'x.pt'), str(img), str(out)],
                       env=hub_env(hub.url, tmp_path), timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = torch.load(out)
    assert max_diff(got['logits'], published['ref']['logits']) <= 1e-4
    assert got['classes'] == 1000

    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cvt13_classify.py'))
    packed = Compose([TRANSFORMS.build(t) for t in
                      cfg.test_dataloader.dataset.pipeline])(
                          dict(img_path=str(img)))
    pre = cfg.data_preprocessor
    mean = torch.tensor(pre.mean).view(3, 1, 1)
    std = torch.tensor(pre.std).view(3, 1, 1)
    x = ((packed['inputs'].flip(0).float() - mean) / std)[None]  # BGR->RGB
    hf = published['model']
    with torch.no_grad():
        scores = hf(x).logits.softmax(-1)[0]
        feats = hf.layernorm(hf.cvt(x).cls_token_value)[0, 0]
    assert max_diff(got['inferencer'], scores) <= 1e-5
    assert max_diff(got['inference_model'], scores) <= 1e-5
    assert max_diff(got['features'], feats) <= 1e-4
