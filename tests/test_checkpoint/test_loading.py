"""Reading and converting checkpoints: both published formats, our own,
prefixes, refused pickles and broken files."""
import pytest
import torch
import torch.nn.functional as F

from cvt_backbone import CvT
from cvt_backbone.checkpoint import (
    CheckpointError,
    convert_cvt_state_dict,
    detect_format,
    read_checkpoint,
)

from compare import max_diff, split_converted
from hostile_pickle import CodeRunningPickle
from log_capture import captured_log
from oracles import hf_to_original_reference
from tool_runner import load_tool


@pytest.fixture(scope='module')
def image():
    return torch.randn(2, 3, 112, 144,
                       generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope='module')
def reference(released_classifier, image):
    with torch.no_grad():
        out = released_classifier.cvt(image, output_hidden_states=True)
        return ([h.clone() for h in out.hidden_states],
                released_classifier(image).logits)


def assert_matches(model: CvT, image, reference, head=None):
    """Stage maps (featmap backbone) or logits (class-token backbone plus
    the converted head's Linear) equal the reference's."""
    model.eval()
    with torch.no_grad():
        out = model(image)
        if head is None:
            for o, r in zip(out, reference[0]):
                assert max_diff(o, r) <= 1e-4
        else:
            logits = F.linear(out[0], head['fc.weight'], head['fc.bias'])
            assert max_diff(logits, reference[1]) <= 1e-4


def load_backbone(path, out_type='featmap', **init):
    model = CvT('13', out_type=out_type,
                init_cfg=dict(type='Pretrained', checkpoint=str(path), **init))
    model.init_weights()
    return model


def test_original_release_format(released_classifier, image, reference,
                                 tmp_path):
    original = hf_to_original_reference(released_classifier.state_dict())
    # the release's 459 entries for CvT-13 (our 7-class head has the same
    # number of tensors as the 1000-class one)
    assert len(original) == 459
    assert detect_format(original) == 'original'
    path = tmp_path / 'CvT-13-224x224-IN-1k.pth'
    torch.save(original, path)
    assert_matches(load_backbone(path), image, reference)

    converted, fmt = convert_cvt_state_dict(original)
    assert fmt == 'original'
    backbone, head = split_converted(converted)
    assert set(head) == {'fc.weight', 'fc.bias'}
    model = CvT('13', out_type='cls_token')
    model.load_state_dict(backbone, strict=True)  # cls_norm included
    assert_matches(model, image, reference, head)


def test_huggingface_formats(released_classifier, image, reference,
                             tmp_path):
    folder = tmp_path / 'cvt-13'
    released_classifier.save_pretrained(folder)  # model.safetensors
    assert (folder / 'model.safetensors').exists()
    assert_matches(load_backbone(folder), image, reference)
    assert_matches(load_backbone(folder / 'model.safetensors'), image,
                   reference)
    bin_path = tmp_path / 'pytorch_model.bin'
    torch.save(released_classifier.state_dict(), bin_path)
    assert_matches(load_backbone(bin_path), image, reference)
    # CvtModel (no classifier) has no "cvt." prefix
    bare = {k[4:]: v for k, v in released_classifier.state_dict().items()
            if k.startswith('cvt.')}
    assert detect_format(bare) == 'huggingface'
    torch.save(bare, tmp_path / 'bare.bin')
    assert_matches(load_backbone(tmp_path / 'bare.bin'), image, reference)


def test_class_token_backbone_takes_the_final_norm(released_classifier,
                                                   image, reference,
                                                   tmp_path):
    """Through init_cfg a cls-token backbone loads the classifier's final
    LayerNorm too; with the head's Linear it gives the published logits."""
    released_classifier.save_pretrained(tmp_path / 'hf')
    model = load_backbone(tmp_path / 'hf', out_type='cls_token')
    converted, _ = convert_cvt_state_dict(released_classifier.state_dict())
    _, head = split_converted(converted)
    assert_matches(model, image, reference, head)


def test_own_checkpoints_and_prefixes(released_classifier, image, reference,
                                      tmp_path):
    converted, _ = convert_cvt_state_dict(released_classifier.state_dict())
    # a model checkpoint as mmengine saves it, wrapped in DataParallel
    wrapped = {'state_dict': {'module.' + k: v for k, v in converted.items()},
               'meta': {'epoch': 3}}
    torch.save(wrapped, tmp_path / 'epoch_3.pth')
    assert_matches(load_backbone(tmp_path / 'epoch_3.pth'), image, reference)
    # bare backbone keys
    bare, _ = split_converted(converted)
    torch.save(bare, tmp_path / 'bare.pth')
    assert_matches(load_backbone(tmp_path / 'bare.pth'), image, reference)
    # an explicit prefix selects a sub-tree of any format
    nested = {'teacher.' + k: v
              for k, v in released_classifier.state_dict().items()}
    nested.update({'student.junk': torch.zeros(1)})
    torch.save(nested, tmp_path / 'nested.pth')
    assert_matches(load_backbone(tmp_path / 'nested.pth', prefix='teacher.'),
                   image, reference)
    with pytest.raises(CheckpointError, match="prefix 'nope.'"):
        load_backbone(tmp_path / 'nested.pth', prefix='nope.')


def test_convert_weights_tool(released_classifier, image, reference,
                              tmp_path, capsys):
    tool = load_tool('model_converters/convert_weights.py')
    released_classifier.save_pretrained(tmp_path / 'hf')
    dst = tmp_path / 'out' / 'cvt13.pth'
    assert tool.main([str(tmp_path / 'hf'), str(dst)]) == 0
    assert 'huggingface format' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['source_format'] == 'huggingface'
    _, head = split_converted(saved['state_dict'])
    assert_matches(load_backbone(dst), image, reference)
    assert_matches(load_backbone(dst, out_type='cls_token'), image,
                   reference, head)
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


def test_missing_truncated_and_mismatched_files(released_classifier,
                                                tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_backbone(missing)
    with pytest.raises(FileNotFoundError, match='without model weights'):
        read_checkpoint(tmp_path)

    good = tmp_path / 'good.pth'
    torch.save(released_classifier.state_dict(), good)
    released_classifier.save_pretrained(tmp_path / 'hf')
    for name, source in (('cut.pth', good),
                         ('cut.safetensors',
                          tmp_path / 'hf' / 'model.safetensors')):
        data = source.read_bytes()
        path = tmp_path / name
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


def test_missing_and_unexpected_keys_are_logged(released_classifier,
                                                tmp_path):
    state = dict(released_classifier.state_dict())
    del state['cvt.encoder.stages.1.layers.0.layernorm_before.weight']
    state['cvt.encoder.stages.2.extra'] = torch.zeros(1)
    torch.save(state, tmp_path / 'partial.pth')
    with captured_log() as log:
        load_backbone(tmp_path / 'partial.pth')
    missing = [m for m in log if m.startswith('missing keys')]
    unexpected = [m for m in log if m.startswith('unexpected keys')]
    assert missing and 'stages.1.blocks.0.norm1.weight' in missing[0]
    assert unexpected and 'stages.2.extra' in unexpected[0]
    # the classifier's Linear and final norm are named, not silently lost,
    # and not reported as unexpected by a dense backbone
    assert any("'head': 2" in m and "'cls_norm': 2" in m for m in log)
    assert 'cls_norm' not in unexpected[0]
