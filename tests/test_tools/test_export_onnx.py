"""tools/deploy/export_onnx.py: one command exports a config + checkpoint
and reports onnxruntime vs torch; a request it cannot serve exits with 2
and says why."""
import sys

import pytest
import torch

from cvt_backbone.apis import build_model
from cvt_backbone.testing import FakeHub, hub_env, randomise_bn

from compare import max_diff
from oracles import ort_outputs
from published_model import serve_published
from tiny_configs import config_path, tiny_classifier_config
from tool_runner import run_tool

TOOL = ['tools/deploy/export_onnx.py']


def tiny_classifier_files(tmp_path):
    """A tiny classifier config file and a checkpoint for it."""
    cfg = tiny_classifier_config(num_classes=7)
    config = str(tmp_path / 'tiny_cls.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = randomise_bn(build_model(cfg))
    ckpt = str(tmp_path / 'tiny_cls.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return config, ckpt, model


@pytest.mark.slow
def test_exports_a_classifier_in_one_command(tmp_path):
    config, ckpt, model = tiny_classifier_files(tmp_path)
    out = str(tmp_path / 'cls.onnx')
    proc = run_tool([sys.executable] + TOOL + [
        config, ckpt, '--out', out, '--shape', '64', '64', '--check-shape',
        '97', '61', '--check-shape', '48', '80'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'output logits: [batch, 7]' in proc.stdout
    assert 'input 1x3x97x61: max abs diff' in proc.stdout
    assert 'input 1x3x48x80: max abs diff' in proc.stdout
    x = torch.randn(2, 3, 72, 90)
    with torch.no_grad():
        want = model(x, mode='tensor')
    assert max_diff(ort_outputs(out, x)['logits'], want) <= 1e-4


def test_bad_requests_exit_2_with_the_reason(tmp_path):
    config, ckpt, _ = tiny_classifier_files(tmp_path)
    out = str(tmp_path / 'x.onnx')
    cases = [
        ([config_path('mask-rcnn_cvt13_fpn_1x_coco.py'), ckpt],
         "detector is not exported"),
        ([config_path('cvt21_classify.py'), ckpt],
         'does not match the model of'),
        ([config, ckpt, '--opset', '13'], 'opset 13 is not supported'),
    ]
    for args, reason in cases:
        proc = run_tool([sys.executable] + TOOL + args + ['--out', out])
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert reason in proc.stderr, (args, proc.stderr[-2000:])
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
def test_exports_a_published_classifier_by_name(published, tmp_path):
    """MODEL a zoo name, no CHECKPOINT: the published CvT-13 (served by a
    stand-in hub) is downloaded, converted and exported; onnxruntime gives
    transformers' logits on an input of another size."""
    out = str(tmp_path / 'cvt13.onnx')
    with FakeHub() as hub:
        serve_published(hub, published)
        proc = run_tool([sys.executable] + TOOL + [
            'cvt-13', '--out', out, '--check-shape', '96', '128'],
            env=hub_env(hub.url, tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'exported the classifier of cvt-13 to' in proc.stdout
    assert 'output logits: [batch, 1000]' in proc.stdout
    x = torch.load(published['root'] / 'x.pt')
    assert max_diff(ort_outputs(out, x)['logits'],
                    published['ref']['logits']) <= 1e-4


def test_a_config_without_checkpoint_or_an_unknown_model_exits_2(tmp_path):
    out = str(tmp_path / 'x.onnx')
    for args, reason in (
            ([config_path('cvt13_classify.py')], 'needs a CHECKPOINT'),
            (['cvt-99'], "'cvt-99' is neither a config file nor a "
             'model-zoo name')):
        proc = run_tool([sys.executable] + TOOL + args + ['--out', out])
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert reason in proc.stderr, (args, proc.stderr[-2000:])
