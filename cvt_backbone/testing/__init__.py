"""Deterministic synthetic data and the independent numerical reference,
shared by the tests, the demos and the benchmark."""
from .reference import make_hf_cvt, randomise_bn
from .synthetic import (
                        CLASSES,
                        DenseSpec,
                        JpegSpec,
                        SyntheticSpec,
                        generate_classification,
                        generate_detection,
                        generate_jpeg_classification,
                        generate_segmentation,
                        photo_like_image,
)

__all__ = [
    'CLASSES', 'DenseSpec', 'JpegSpec', 'SyntheticSpec',
    'generate_classification', 'generate_detection',
    'generate_jpeg_classification', 'generate_segmentation', 'make_hf_cvt',
    'photo_like_image', 'randomise_bn'
]
