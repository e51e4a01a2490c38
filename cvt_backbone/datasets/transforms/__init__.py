"""Faster versions of mmpretrain's training transforms, with the same
semantics, registered in mmengine's root ``TRANSFORMS`` (so mmpretrain
configs build them by name)."""
from .auto_augment import (
    FAST_OPS,
    FastAutoContrast,
    FastBrightness,
    FastColorTransform,
    FastContrast,
    FastEqualize,
    FastInvert,
    FastPosterize,
    FastRandAugment,
    FastRotate,
    FastSharpness,
    FastShear,
    FastSolarize,
    FastSolarizeAdd,
    FastTranslate,
    fast_policies,
)
from .loading import LoadImageOrSkip
from .processing import (
    DecodeRandomResizedCrop,
    FastPackInputs,
    FastRandomErasing,
    jpeg_reduction,
    resize_uint8,
)

__all__ = [
    'FAST_OPS', 'DecodeRandomResizedCrop', 'FastAutoContrast',
    'FastBrightness', 'FastColorTransform', 'FastContrast', 'FastEqualize',
    'FastInvert', 'FastPackInputs', 'FastPosterize', 'FastRandAugment',
    'FastRandomErasing', 'FastRotate', 'FastSharpness', 'FastShear',
    'FastSolarize', 'FastSolarizeAdd', 'FastTranslate', 'LoadImageOrSkip',
    'fast_policies', 'jpeg_reduction', 'resize_uint8'
]
