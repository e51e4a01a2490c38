"""CvT backbone for OpenMMLab (mmengine, mmdet, mmseg).

Importing this package registers ``CvT``, ``QuickGELU`` and the
classification pieces in mmengine's root ``MODELS`` registry, so configs only
need ``custom_imports=dict(imports=['cvt_backbone'])``.
"""
from . import runtime  # noqa: F401  (safe checkpoint types)
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _cls_all
from .convert import (CheckpointError, convert_checkpoint, convert_state_dict,
                      detect_format, load_pretrained, read_checkpoint)
from .cvt import (Block, ConvAttention, ConvEmbed, ConvProjection, CvT,
                  KVLinear, QuickGELU, Stage)

__version__ = '0.1.0'

__all__ = _cls_all + [
    'Block', 'CheckpointError', 'ConvAttention', 'ConvEmbed', 'ConvProjection',
    'CvT', 'KVLinear', 'QuickGELU', 'Stage',
    'convert_checkpoint', 'convert_state_dict', 'detect_format',
    'load_pretrained', 'read_checkpoint'
]
