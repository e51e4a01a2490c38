"""CvT backbone for OpenMMLab (mmengine, mmdet, mmseg).

Importing this package registers ``CvT``, ``QuickGELU`` and the
classification pieces in mmengine's root ``MODELS`` registry, so configs only
need ``custom_imports=dict(imports=['cvt_backbone'])``.
"""
from .classification import CvTClsHead
from .convert import (CheckpointError, convert_checkpoint, convert_state_dict,
                      detect_format, load_pretrained, read_checkpoint)
from .cvt import (Block, ConvAttention, ConvEmbed, ConvProjection, CvT,
                  KVLinear, QuickGELU, Stage)

__version__ = '0.1.0'

__all__ = [
    'Block', 'CheckpointError', 'ConvAttention', 'ConvEmbed', 'ConvProjection',
    'CvT', 'CvTClsHead', 'KVLinear', 'QuickGELU', 'Stage',
    'convert_checkpoint', 'convert_state_dict', 'detect_format',
    'load_pretrained', 'read_checkpoint'
]
