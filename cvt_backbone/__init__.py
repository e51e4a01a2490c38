"""CvT backbone for OpenMMLab (mmpretrain, mmdet, mmseg).

Importing this package registers ``CvT``, ``QuickGELU``, this project's
hooks and its faster training transforms (:mod:`cvt_backbone.datasets`) in
mmengine's root registries, so configs only need
``custom_imports=dict(imports=['cvt_backbone'])``, and lets mmengine resume
from its own checkpoints under torch's ``weights_only`` loading
(:func:`cvt_backbone.engine.allow_mmengine_checkpoints`).
"""
from . import datasets  # noqa: F401  (registers the transforms)
from .engine import allow_mmengine_checkpoints
from .models import CvT, QuickGELU
from .version import __version__

allow_mmengine_checkpoints()

__all__ = ['CvT', 'QuickGELU', '__version__']
