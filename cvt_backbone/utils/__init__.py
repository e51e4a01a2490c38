from ..models.backbones.cvt import CheckpointError
from .checkpoint import (
                         convert_checkpoint,
                         load_into,
                         load_pretrained,
                         read_checkpoint,
                         strip_prefix,
)
from .flops import count_macs, count_params

__all__ = [
    'CheckpointError', 'convert_checkpoint', 'count_macs', 'count_params',
    'load_into', 'load_pretrained', 'read_checkpoint', 'strip_prefix'
]
