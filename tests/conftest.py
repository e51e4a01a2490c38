"""Fixtures shared by the tests. The shared test support lives in modules
named for their concern: ``oracles`` (independent expected values),
``compare``, ``published_model`` (the release stand-in), ``tiny_configs``,
``tool_runner``, ``transform_kit``, ``log_capture``, ``hostile_pickle``;
the package's testing kit (``cvt_backbone.testing``) holds the tiny archs,
the stand-in Hugging Face Hub, the reference model and the synthetic data.
"""
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
    from published_model import write_published
    return write_published(tmp_path_factory.mktemp('published'))
