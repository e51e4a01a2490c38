"""Fixtures shared by the tests; helpers are in helpers.py."""
import pytest

from cvt_backbone.testing import make_hf_cvt


def pytest_configure(config):
    config.addinivalue_line('markers',
                            'slow: end-to-end tests (still run in CI)')


@pytest.fixture(scope='session')
def hf_classifier():
    """``transformers``' CvT-13 classifier (10 classes, GELU), randomly
    initialised with non-trivial BatchNorm statistics, eval mode."""
    return make_hf_cvt(num_labels=10)


@pytest.fixture(scope='session')
def released_classifier():
    """The same with QuickGELU: numerically the released CvT-13 (7 classes)."""
    return make_hf_cvt(num_labels=7, quick_gelu=True, seed=5)


@pytest.fixture(scope='session')
def tiny_cls_data(tmp_path_factory):
    """The synthetic classification set at 32 px: 6 classes, 24 train and
    10 val images each."""
    from cvt_backbone.testing import SyntheticSpec, generate_classification
    root = str(tmp_path_factory.mktemp('syn'))
    return generate_classification(
        root, SyntheticSpec(image_size=32, train_per_class=24,
                            val_per_class=10), verbose=False)


@pytest.fixture(scope='session')
def published(tmp_path_factory):
    """A 'published' CvT-13 (QuickGELU: numerically the release) with 1000
    named classes, as a Hugging Face folder, a .bin and an original-release
    .pth; a fixed input ``x.pt`` and the model's outputs on it (``ref``:
    stage maps and logits)."""
    import torch

    from helpers import PUBLISHED_LABELS, hf_to_original_reference
    root = tmp_path_factory.mktemp('published')
    model = make_hf_cvt(num_labels=1000, quick_gelu=True, seed=7,
                        id2label=PUBLISHED_LABELS,
                        label2id={v: k for k, v in PUBLISHED_LABELS.items()})
    model.save_pretrained(root / 'hf')
    state = model.state_dict()
    torch.save(state, root / 'pytorch_model.bin')
    torch.save(hf_to_original_reference(state), root / 'CvT-13-orig.pth')
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model.cvt(x, output_hidden_states=True)
        ref = dict(maps=[h.clone() for h in out.hidden_states],
                   logits=model(x).logits.clone())
    torch.save(x, root / 'x.pt')
    return dict(root=root, ref=ref, model=model)
