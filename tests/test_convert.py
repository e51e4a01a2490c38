"""Reading and converting checkpoints: both published formats, our own,
prefixes, refused pickles and broken files."""
import logging
import os

import pytest
import torch

from conftest import (CodeRunningPickle, hf_to_original_reference,
                      make_hf_classifier)
from cvt_backbone import (CheckpointError, CvT, CvTClsHead,
                          convert_state_dict, detect_format, read_checkpoint)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def hf_model():
    # The QuickGELU variant is numerically the released CvT.
    return make_hf_classifier(num_labels=7, quick_gelu=True, seed=5)


@pytest.fixture(scope='module')
def image():
    return torch.randn(2, 3, 112, 144, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope='module')
def reference(hf_model, image):
    with torch.no_grad():
        out = hf_model.cvt(image, output_hidden_states=True)
        return [h.clone() for h in out.hidden_states], hf_model(image).logits


def assert_matches(model: CvT, image, reference, head=None):
    model.eval()
    with torch.no_grad():
        for o, r in zip(model(image), reference[0]):
            assert (o - r).abs().max() <= 1e-4
        if head is not None:
            model.out_type = 'cls_token'
            assert (head.eval()(model(image)) - reference[1]).abs().max() \
                <= 1e-4


def load_backbone(path, **init):
    model = CvT('13', init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                    **init))
    model.init_weights()
    return model


def test_original_release_format(hf_model, image, reference, tmp_path):
    original = hf_to_original_reference(hf_model.state_dict())
    # the release's 459 entries for CvT-13 (our 7-class head has the same
    # number of tensors as the 1000-class one)
    assert len(original) == 459
    assert detect_format(original) == 'original'
    path = tmp_path / 'CvT-13-224x224-IN-1k.pth'
    torch.save(original, path)
    assert_matches(load_backbone(path), image, reference)

    converted, fmt = convert_state_dict(original)
    assert fmt == 'original'
    head = CvTClsHead(7, 384)
    head.load_state_dict({k[5:]: v for k, v in converted.items()
                          if k.startswith('head.')}, strict=True)
    model = CvT('13')
    model.load_state_dict({k[9:]: v for k, v in converted.items()
                           if k.startswith('backbone.')}, strict=True)
    assert_matches(model, image, reference, head)


def test_huggingface_formats(hf_model, image, reference, tmp_path):
    folder = tmp_path / 'cvt-13'
    hf_model.save_pretrained(folder)  # config.json + model.safetensors
    assert (folder / 'model.safetensors').exists()
    assert_matches(load_backbone(folder), image, reference)
    assert_matches(load_backbone(folder / 'model.safetensors'), image,
                   reference)
    bin_path = tmp_path / 'pytorch_model.bin'
    torch.save(hf_model.state_dict(), bin_path)
    assert_matches(load_backbone(bin_path), image, reference)
    # CvtModel (no classifier) has no "cvt." prefix
    bare = {k[4:]: v for k, v in hf_model.state_dict().items()
            if k.startswith('cvt.')}
    assert detect_format(bare) == 'huggingface'
    torch.save(bare, tmp_path / 'bare.bin')
    assert_matches(load_backbone(tmp_path / 'bare.bin'), image, reference)


def test_own_checkpoints_and_prefixes(hf_model, image, reference, tmp_path):
    converted, _ = convert_state_dict(hf_model.state_dict())
    # a model checkpoint as mmengine saves it, wrapped in DataParallel
    wrapped = {'state_dict': {'module.' + k: v for k, v in converted.items()},
               'meta': {'epoch': 3}}
    torch.save(wrapped, tmp_path / 'epoch_3.pth')
    assert_matches(load_backbone(tmp_path / 'epoch_3.pth'), image, reference)
    # bare backbone keys
    bare = {k[9:]: v for k, v in converted.items() if k.startswith('backbone.')}
    torch.save(bare, tmp_path / 'bare.pth')
    assert_matches(load_backbone(tmp_path / 'bare.pth'), image, reference)
    # an explicit prefix selects a sub-tree of any format
    nested = {'teacher.' + k: v for k, v in hf_model.state_dict().items()}
    nested.update({'student.junk': torch.zeros(1)})
    torch.save(nested, tmp_path / 'nested.pth')
    assert_matches(load_backbone(tmp_path / 'nested.pth', prefix='teacher.'),
                   image, reference)
    with pytest.raises(CheckpointError, match="prefix 'nope.'"):
        load_backbone(tmp_path / 'nested.pth', prefix='nope.')


def test_convert_weights_tool(hf_model, image, reference, tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'convert_weights', os.path.join(ROOT, 'tools', 'convert_weights.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    hf_model.save_pretrained(tmp_path / 'hf')
    dst = tmp_path / 'out' / 'cvt13.pth'
    assert tool.main([str(tmp_path / 'hf'), str(dst)]) == 0
    assert 'huggingface format' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['source_format'] == 'huggingface'
    head = CvTClsHead(7, 384)
    head.load_state_dict({k[5:]: v for k, v in saved['state_dict'].items()
                          if k.startswith('head.')})
    assert_matches(load_backbone(dst), image, reference)
    model = load_backbone(dst)
    assert_matches(model, image, reference, head)
    assert tool.main([str(tmp_path / 'missing.pth'), str(dst)]) == 1
    assert 'not found' in capsys.readouterr().err


def test_malicious_pickle_is_refused_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': CodeRunningPickle(marker)}}, path)
    with pytest.raises(CheckpointError, match='refused to load'):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match='refused'):
        load_backbone(path)
    assert not marker.exists()


def test_missing_truncated_and_mismatched_files(hf_model, tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_backbone(missing)
    with pytest.raises(FileNotFoundError, match='without model weights'):
        read_checkpoint(tmp_path)

    good = tmp_path / 'good.pth'
    torch.save(hf_model.state_dict(), good)
    data = good.read_bytes()
    for name, suffix in (('cut.pth', ''), ('cut.safetensors', '')):
        path = tmp_path / name
        if name.endswith('.safetensors'):
            hf_model.save_pretrained(tmp_path / 'hf')
            data = (tmp_path / 'hf' / 'model.safetensors').read_bytes()
        path.write_bytes(data[:len(data) // 2])
        with pytest.raises(CheckpointError, match=name):
            read_checkpoint(path)

    # CvT-13 weights into a CvT-W24 backbone: refused, naming the keys
    model = CvT('w24', init_cfg=dict(type='Pretrained', checkpoint=str(good)))
    with pytest.raises(CheckpointError, match=r'shape mismatch.*'
                       r'stages\.0\.patch_embed\.proj\.weight'):
        model.init_weights()

    torch.save({'conv1.weight': torch.zeros(1)}, tmp_path / 'resnet.pth')
    with pytest.raises(CheckpointError, match='not a CvT checkpoint'):
        load_backbone(tmp_path / 'resnet.pth')


@pytest.fixture
def mm_log():
    """Messages that mmengine's current logger emits during the test."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_missing_and_unexpected_keys_are_logged(hf_model, tmp_path, mm_log):
    state = dict(hf_model.state_dict())
    del state['cvt.encoder.stages.1.layers.0.layernorm_before.weight']
    state['cvt.encoder.stages.2.extra'] = torch.zeros(1)
    torch.save(state, tmp_path / 'partial.pth')
    load_backbone(tmp_path / 'partial.pth')
    missing = [m for m in mm_log if m.startswith('missing keys')]
    unexpected = [m for m in mm_log if m.startswith('unexpected keys')]
    assert missing and 'stages.1.blocks.0.norm1.weight' in missing[0]
    assert unexpected and 'stages.2.extra' in unexpected[0]
    # the classifier head is named, not silently lost
    assert any("{'head': 4}" in m for m in mm_log)
