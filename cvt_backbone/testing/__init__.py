"""Deterministic synthetic data, the independent numerical reference and
the loader probe, shared by the tests, the demos and the benchmark."""
from .loader_probe import LoaderProbe
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
    'CLASSES', 'DenseSpec', 'JpegSpec', 'LoaderProbe', 'SyntheticSpec',
    'generate_classification', 'generate_detection',
    'generate_jpeg_classification', 'generate_segmentation', 'make_hf_cvt',
    'photo_like_image', 'randomise_bn'
]
