from ..models.backbones.cvt import CheckpointError
from .checkpoint import load_into, read_checkpoint, strip_prefix
from .flops import count_macs, count_params

__all__ = [
    'CheckpointError', 'count_macs', 'count_params', 'load_into',
    'read_checkpoint', 'strip_prefix'
]
