"""CvT backbone for OpenMMLab (mmpretrain, mmdet, mmseg).

Importing this package registers ``CvT``, ``QuickGELU``, this project's
hooks and its faster training transforms (:mod:`cvt_backbone.datasets`) in
mmengine's root registries, so configs only need
``custom_imports=dict(imports=['cvt_backbone'])``; registers the model-zoo
names, ``hf://`` and ``cvt://`` as mmengine checkpoint schemes, so
``load_from='cvt-13'`` works in any OpenMMLab tool, and the ``CvTPretrained``
weight initialiser behind a backbone's ``init_cfg=dict(type='Pretrained')``
(:mod:`cvt_backbone.checkpoint`); and lets mmengine
resume from its own checkpoints under torch's ``weights_only`` loading
(:func:`cvt_backbone.engine.allow_mmengine_checkpoints`); and puts the
published models in mmpretrain's model index under mmpretrain's names
(``mmpretrain.list_models('cvt*')``, ``mmpretrain.get_model(
'cvt-13_3rdparty_in1k', pretrained=True)``; :mod:`cvt_backbone.apis.
model_index`).
"""
from . import datasets  # noqa: F401  (registers the transforms)
from .apis import get_model
from .apis.model_index import register_mmpretrain_models
from .checkpoint import list_models, register_checkpoint_loaders
from .engine import allow_mmengine_checkpoints
from .models import CvT, QuickGELU
from .version import __version__

allow_mmengine_checkpoints()
register_checkpoint_loaders()
register_mmpretrain_models()

__all__ = ['CvT', 'QuickGELU', '__version__', 'get_model', 'list_models']
