"""Fixtures of the benchmark's tests: a tiny CvT and a few JPEGs (the
benchmark's logic at tiny sizes, not a timing test)."""
import json

import pytest


@pytest.fixture(scope='session')
def tiny_arch() -> str:
    """A tiny CvT as the JSON ``--arch`` takes."""
    return json.dumps(dict(embed_dims=[16, 32, 64], depths=[1, 2, 3],
                           num_heads=[1, 2, 2]))


@pytest.fixture(scope='session')
def jpegs(tmp_path_factory):
    """Six generated ImageNet-sized JPEGs (one per class)."""
    from cvt_backbone.testing import JpegSpec, generate_jpeg_classification
    return generate_jpeg_classification(
        str(tmp_path_factory.mktemp('jpegs')),
        JpegSpec(train_per_class=1, val_per_class=1), verbose=False)
