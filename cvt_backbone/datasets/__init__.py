"""Data pipeline pieces for mmpretrain, mmdet and mmseg configs (registered
on import): the faster transforms, the skipping of unreadable images
(``bad_images``, ``LoadImageOrSkip``) and the validation wrapper that
leaves them out (``SkipUnreadable``, ``collate_readable``)."""
from .bad_images import (
    BadImageRecorder,
    TooManyBadImagesError,
    UnreadableImageError,
    decode_checked,
)
from .skip_unreadable import SkipUnreadable, collate_readable
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms

__all__ = [
    'BadImageRecorder', 'SkipUnreadable', 'TooManyBadImagesError',
    'UnreadableImageError', 'collate_readable', 'decode_checked'
] + _transforms
