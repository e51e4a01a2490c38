"""Unreadable images: found while decoding, skipped, reported, and counted
against a limit.

A file that cannot become an image (missing, empty, truncated, not an
image, a format OpenCV does not decode, a header that disagrees with the
pixels) raises :class:`UnreadableImageError` naming its path and why in
:func:`decode_checked`; the loading transforms
(``LoadImageOrSkip``, ``DecodeRandomResizedCrop``) catch it, report it
through :class:`BadImageRecorder` and return ``None``, which mmengine's
training datasets answer by drawing another sample, and this project's
:class:`~cvt_backbone.datasets.SkipUnreadable` wrapper (validation, test)
by dropping the sample. Readable oddities (grayscale, CMYK, 16-bit, RGBA,
a PNG named ``.JPEG``, EXIF rotation) are decoded by OpenCV's
``IMREAD_COLOR`` to 3-channel 8-bit images, as before.

The recorder keeps a per-process count (DataLoader workers are processes)
and, when a log folder is given, appends ``path<TAB>reason`` lines to
``<log_dir>/<phase>-rank<R>-pid<P>.tsv``, from which
:class:`~cvt_backbone.engine.BadImageHook` counts each epoch's skips on
every rank. Above the limit (more than ``min_count`` skipped *and* more
than ``max_fraction`` of the images this process read) it raises
:class:`TooManyBadImagesError`: a wrong ``data_root`` or a broken copy of
the data stops the run instead of training on what is left.

A JPEG cut short is named as such from its bytes (no end-of-image marker
after the first scan, :func:`jpeg_is_complete`), before decoding: OpenCV
4 decoded one without an error (grey rows, a libjpeg warning on stderr
only), OpenCV 5 refuses it with no reason.
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

# the default limit, documented in the README ("Faults")
DEFAULT_MAX_FRACTION = 0.01
DEFAULT_MIN_COUNT = 50

_FORMATS = ((b'\xff\xd8', 'JPEG'), (b'\x89PNG\r\n\x1a\n', 'PNG'),
            (b'GIF8', 'GIF'), (b'BM', 'BMP'), (b'RIFF', 'WEBP/RIFF'),
            (b'II*\x00', 'TIFF'), (b'MM\x00*', 'TIFF'),
            (b'\x00\x00\x01\x00', 'ICO'),
            (b'\x00\x00\x00', 'ISO media (HEIC/AVIF?)'))


class UnreadableImageError(ValueError):
    """An image file that cannot be decoded; ``path`` and ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}')
        self.path, self.reason = path, reason


class TooManyBadImagesError(RuntimeError):
    """More unreadable images than the run's limit allows."""


def guess_format(data: bytes) -> str:
    for magic, name in _FORMATS:
        if data.startswith(magic):
            return name
    return 'unknown'


def jpeg_is_complete(data: bytes) -> bool:
    """Whether a JPEG's bytes hold an end-of-image marker after the start
    of its first scan (a file cut short has none: inside the entropy-coded
    data ``0xFF`` is always followed by ``0x00`` or a restart marker)."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0xDA:  # start of scan
            return data.rfind(b'\xff\xd9', i) > i
        i += 2 + int.from_bytes(data[i + 2:i + 4], 'big')
    return False


def decode_checked(data: bytes, path: str,
                   flag: int = cv2.IMREAD_COLOR,
                   header_hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """``cv2.imdecode(data, flag)``, or :class:`UnreadableImageError` with
    the reason: an empty file, bytes OpenCV cannot decode (with the format
    the first bytes suggest), a JPEG cut short, or a decoded size that
    disagrees with ``header_hw`` (only checked for a full-size decode)."""
    if not data:
        raise UnreadableImageError(path, 'empty file')
    fmt = guess_format(data)
    if fmt == 'JPEG' and not jpeg_is_complete(data):
        raise UnreadableImageError(
            path, f'truncated JPEG ({len(data)} bytes, no end-of-image '
            'marker after the scan)')
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None:
        what = ('not an image (no known image header)' if fmt == 'unknown'
                else f'a {fmt} file OpenCV cannot decode (corrupt, '
                'truncated or unsupported)')
        raise UnreadableImageError(path, what)
    if header_hw is not None and img.shape[:2] != tuple(header_hw):
        raise UnreadableImageError(
            path, f'the header says {header_hw[0]}x{header_hw[1]}, the '
            f'pixels decode to {img.shape[0]}x{img.shape[1]}')
    return img


def read_bytes(path: str, backend_args: Optional[dict] = None) -> bytes:
    """The file's bytes through mmengine's file backends, or
    :class:`UnreadableImageError` for a missing or unreadable file."""
    from mmengine import fileio
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise UnreadableImageError(path, 'no such file') from None
    except (OSError, ValueError) as e:
        raise UnreadableImageError(path, f'cannot be read: {e}') from None


class BadImageRecorder:
    """Counts this process's reads and skips for one pipeline (``phase``:
    train, val or test) and enforces the limit; see the module docstring.

    ``max_fraction=None`` turns the limit off (every unreadable image is
    still skipped and reported)."""

    def __init__(self, phase: str = 'train', log_dir: Optional[str] = None,
                 max_fraction: Optional[float] = DEFAULT_MAX_FRACTION,
                 min_count: int = DEFAULT_MIN_COUNT) -> None:
        if max_fraction is not None and not 0 <= max_fraction <= 1:
            raise ValueError(f'max_fraction must be in [0, 1] or None, got '
                             f'{max_fraction!r}')
        self.phase, self.log_dir = phase, log_dir
        self.max_fraction, self.min_count = max_fraction, int(min_count)
        self.reads = 0
        self.skipped: List[Tuple[str, str]] = []

    def read(self) -> None:
        self.reads += 1

    def _log_file(self) -> str:
        rank = os.environ.get('RANK', '0')
        return osp.join(self.log_dir,
                        f'{self.phase}-rank{rank}-pid{os.getpid()}.tsv')

    def skip(self, error: UnreadableImageError) -> None:
        """Report ``error``'s file (a warning through mmengine's logger and
        a line in the log folder), then stop if the limit is passed."""
        self.skipped.append((error.path, error.reason))
        print_log(f'skipped an unreadable {self.phase} image: {error}',
                  logger='current', level=logging.WARNING)
        if self.log_dir is not None:
            os.makedirs(self.log_dir, exist_ok=True)
            reason = error.reason.replace('\t', ' ').replace('\n', ' ')
            with open(self._log_file(), 'a') as f:
                f.write(f'{error.path}\t{reason}\n')
        n = len(self.skipped)
        if self.max_fraction is not None and n > self.min_count and \
                n > self.max_fraction * self.reads:
            first = '; '.join(f'{p} ({r})' for p, r in self.skipped[:5])
            raise TooManyBadImagesError(
                f'{n} of the {self.reads} {self.phase} images this data '
                f'worker read could not be decoded, more than the limit '
                f'(bad_images: max_fraction={self.max_fraction}, '
                f'min_count={self.min_count}); the first: {first}. Is the '
                "dataset's data_root / ann_file right? Fix or remove the "
                'files, or raise bad_images.max_fraction in the config.')
