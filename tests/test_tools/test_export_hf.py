"""tools/model_converters/export_hf.py: a classifier trained here -> a
Hugging Face folder that transformers loads (its logits and its image
processor's tensor are ours), -> back through our converter to the same
model; QuickGELU's difference measured, printed and in the card; the
upload through huggingface_hub to the stand-in hub."""
import json
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from cvt_backbone.apis import build_model
from cvt_backbone.testing import FakeHub, randomise_bn

from compare import max_diff
from tiny_configs import tiny_export_config
from tool_runner import load_tool

CLASSES = [f'shape_{i}' for i in range(10)]
METRICS = {'accuracy/top1': 87.5, 'accuracy/top5': 99.0}


def trained_run(tmp_path, act: str):
    """A 'training run' of the tiny classifier: its config, a work dir with
    an mmengine-style checkpoint (class names in ``meta.dataset_meta``) and
    the summary the training hook writes."""
    work = tmp_path / 'work'
    work.mkdir()
    config = tiny_export_config(tmp_path / 'cfg.py', act=act)
    model = build_model(config, init_weights=True)
    randomise_bn(model, seed=1)
    ckpt = work / 'epoch_3.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), ckpt)
    (work / 'summary.json').write_text(json.dumps(dict(epoch=3,
                                                       metrics=METRICS)))
    return config, str(ckpt), model


def export(tmp_path, capsys, act):
    config, ckpt, model = trained_run(tmp_path, act)
    out = tmp_path / 'hf'
    tool = load_tool('model_converters/export_hf.py')
    assert tool.main([config, ckpt, str(out)]) == 0
    return config, ckpt, model, out, capsys.readouterr().out


def test_gelu_export_round_trips(tmp_path, capsys):
    """Ours -> HF folder -> transformers: the logits at 224 and at
    160x192 within 1e-4; HF folder -> our converter -> our model: equal
    again; id2label, the card's metrics and recipe."""
    import transformers
    config, _, model, out, printed = export(tmp_path, capsys, 'GELU')
    assert {p.name for p in out.iterdir()} >= {
        'config.json', 'model.safetensors', 'preprocessor_config.json',
        'README.md'}
    hf = transformers.CvtForImageClassification.from_pretrained(out).eval()
    assert hf.config.id2label == dict(enumerate(CLASSES))
    assert hf.config.label2id == {c: i for i, c in enumerate(CLASSES)}
    back = build_model(config, str(out))  # our loader reads the HF folder
    g = torch.Generator().manual_seed(0)
    for size in ((224, 224), (160, 192)):
        x = torch.randn(2, 3, *size, generator=g)
        with torch.no_grad():
            ours = model(x, mode='tensor')
            assert max_diff(hf(pixel_values=x).logits, ours) <= 1e-4, size
            assert max_diff(back(x, mode='tensor'), ours) <= 1e-6, size
    measured = float(re.search(r'max \|diff\| (\S+)', printed).group(1))
    assert measured <= 1e-4
    card = (out / 'README.md').read_text()
    assert 'library_name: transformers' in card
    assert 'the export is exact' in card
    assert '| accuracy/top1 | 87.50 |' in card
    assert 'AdamW' in card and 'Mixup(0.8)' in card


def test_image_processor_reproduces_our_test_pipeline(tmp_path, capsys):
    """AutoImageProcessor.from_pretrained(OUT) on an image gives the
    tensor of the config's test pipeline and data preprocessor (run by
    mmpretrain's own transforms), at 224 (resize 256 + crop), at 384
    (resize, no crop) and without any resizing (the synthetic demo's
    pipeline: the image at its own size)."""
    import transformers
    from mmengine.dataset import Compose
    from mmpretrain.registry import TRANSFORMS
    rng = np.random.default_rng(0)
    image = tmp_path / 'img.png'  # PNG: no JPEG decoder differences
    Image.fromarray(rng.integers(0, 256, (300, 375, 3), dtype=np.uint8)) \
        .save(image)
    for base in ('cvt13_classify.py', 'cvt13_classify_384.py',
                 'demo_cvt13_synthetic.py'):
        sub = tmp_path / base[:-3]
        sub.mkdir()
        config = tiny_export_config(sub / 'cfg.py', base=base)
        model = build_model(config)
        ckpt = sub / 'm.pth'
        torch.save(dict(state_dict=model.state_dict()), ckpt)
        tool = load_tool('model_converters/export_hf.py')
        assert tool.main([config, str(ckpt), str(sub / 'hf')]) == 0
        processor = transformers.AutoImageProcessor.from_pretrained(
            sub / 'hf')
        theirs = processor(Image.open(image).convert('RGB'),
                           return_tensors='pt')['pixel_values']
        cfg = Config.fromfile(config)
        pipeline = Compose([TRANSFORMS.build(t) for t in
                            cfg.test_dataloader.dataset.pipeline])
        packed = pipeline(dict(img_path=str(image)))
        ours = model.data_preprocessor(
            dict(inputs=[packed['inputs']]), False)['inputs']
        assert ours.shape == theirs.shape, base
        assert max_diff(ours, theirs) <= 1e-4, base
        assert processor.do_resize == (base != 'demo_cvt13_synthetic.py')
    assert theirs.shape[-2:] == (300, 375)  # fed at its own size
    capsys.readouterr()


def test_quick_gelu_difference_is_printed_and_in_the_card(tmp_path,
                                                          capsys):
    """A QuickGELU model exports with a nonzero logits difference, the one
    transformers' model really has (measured here on the tool's inputs),
    printed and stated in the card."""
    import transformers
    _, _, model, out, printed = export(tmp_path, capsys,
                                       'mmengine.QuickGELU')
    printed_diff = float(re.search(r'max \|diff\| (\S+)', printed).group(1))
    assert 'quick_gelu' in printed
    hf = transformers.CvtForImageClassification.from_pretrained(out).eval()
    x = torch.randn(4, 3, 224, 224,
                    generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        real = max_diff(hf(pixel_values=x).logits, model(x, mode='tensor'))
    assert real > 1e-4
    assert printed_diff == pytest.approx(real, rel=1e-2)
    card = (out / 'README.md').read_text()
    assert f'up to {printed_diff:.4g}' in card
    assert 'always runs exact GELU' in card
    print(f'QuickGELU export: logits max |diff| {real:.3e}')


def test_push_to_hub_uploads_the_folder(tmp_path, capsys, monkeypatch):
    """--push-to-hub creates the repo and uploads every file with
    huggingface_hub's HfApi (against the stand-in hub)."""
    from huggingface_hub import constants
    config, ckpt, _ = trained_run(tmp_path, 'GELU')
    out = tmp_path / 'hf'
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hfhome'))
    monkeypatch.delenv('HF_TOKEN', raising=False)
    with FakeHub() as hub:
        monkeypatch.setattr(constants, 'ENDPOINT', hub.url)
        tool = load_tool('model_converters/export_hf.py')
        assert tool.main([config, ckpt, str(out),
                          '--push-to-hub', 'me/cvt-tiny']) == 0
        assert hub.repos['me/cvt-tiny'] == {
            p.name: p.read_bytes() for p in out.iterdir()}
        assert hub.commits[-1][0] == 'me/cvt-tiny'
    assert 'pushed to me/cvt-tiny' in capsys.readouterr().out


def test_refuses_what_transformers_cannot_express(tmp_path, capsys):
    """A dense (featmap) config and an activation transformers' CvT does
    not have fail with a message saying what is expected."""
    config = tiny_export_config(tmp_path / 'relu.py', act='ReLU')
    model = build_model(config)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'm.pth')
    tool = load_tool('model_converters/export_hf.py')
    assert tool.main([config, str(tmp_path / 'm.pth'),
                      str(tmp_path / 'out')]) == 1
    assert 'only GELU or QuickGELU' in capsys.readouterr().err
