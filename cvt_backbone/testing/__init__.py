"""The package's testing kit, shared by the tests, the demos and the
benchmark: deterministic synthetic data (``synthetic``), the independent
numerical reference (``reference``), the tiny CvT layouts (``archs``), the
stand-in Hugging Face Hub (``hub``) and the loader probe (``loader_probe``).
"""
from .archs import TINY_ARCH, TINY_CLS_ARCH, TINY_DENSE_ARCH
from .hub import FakeHub, hub_env
from .loader_probe import LoaderProbe
from .reference import make_hf_cvt, randomise_bn
from .synthetic import (
                        CLASSES,
                        TRANSFER_SETS,
                        DenseSpec,
                        JpegSpec,
                        SyntheticSpec,
                        TransferSpec,
                        cifar_checksums,
                        generate_classification,
                        generate_detection,
                        generate_jpeg_classification,
                        generate_segmentation,
                        generate_transfer_set,
                        photo_like_image,
                        transfer_labels,
)

__all__ = [
    'CLASSES', 'DenseSpec', 'FakeHub', 'JpegSpec', 'LoaderProbe',
    'SyntheticSpec', 'TINY_ARCH', 'TINY_CLS_ARCH', 'TINY_DENSE_ARCH',
    'TRANSFER_SETS', 'TransferSpec', 'cifar_checksums',
    'generate_classification',
    'generate_detection', 'generate_jpeg_classification',
    'generate_segmentation', 'generate_transfer_set', 'hub_env',
    'make_hf_cvt', 'photo_like_image', 'randomise_bn', 'transfer_labels'
]
