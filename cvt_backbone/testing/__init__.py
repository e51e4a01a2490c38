"""Deterministic synthetic data and the independent numerical reference,
shared by the tests, the demos and the benchmark."""
from .reference import make_hf_cvt, randomise_bn
from .synthetic import (
                        CLASSES,
                        DenseSpec,
                        SyntheticSpec,
                        generate_classification,
                        generate_detection,
                        generate_segmentation,
)

__all__ = [
    'CLASSES', 'DenseSpec', 'SyntheticSpec', 'generate_classification',
    'generate_detection', 'generate_segmentation', 'make_hf_cvt',
    'randomise_bn'
]
