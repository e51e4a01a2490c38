"""``LoadImageOrSkip``: mmcv's ``LoadImageFromFile`` that skips and reports
an unreadable image instead of raising (``cvt_backbone.datasets.
bad_images``).

mmcv's loader raises OpenCV's ``!buf.empty()`` assertion for an empty file
and ``failed to decode the image`` for a broken one, without the path, and
decodes a truncated JPEG silently; with ``ignore_empty=True`` it returns
``None`` without a word. This one names the file and the reason in a
warning, counts it against the run's limit and returns ``None`` (mmengine's
training datasets then draw another sample; ``SkipUnreadable`` drops it in
validation and test).
"""
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.registry import TRANSFORMS

from ..bad_images import (
    DEFAULT_MAX_FRACTION,
    DEFAULT_MIN_COUNT,
    BadImageRecorder,
    UnreadableImageError,
    decode_checked,
    read_bytes,
)

_CV2_FLAGS = {'color': cv2.IMREAD_COLOR, 'grayscale': cv2.IMREAD_GRAYSCALE,
              'unchanged': cv2.IMREAD_UNCHANGED}


class SkipsUnreadable:
    """The skipping arguments both loading transforms take:

    Args:
        skip_unreadable: skip and report unreadable images (``False``:
            raise :class:`UnreadableImageError`, which names the file).
        phase: ``'train'``, ``'val'`` or ``'test'``, for the reports.
        bad_image_dir: where the per-process report files go (set by
            ``cvt_backbone.engine.build_config`` to ``<work_dir>/
            bad_images``); ``None`` reports through the logger only.
        max_fraction, min_count: the limit (``BadImageRecorder``).
    """

    def _init_skipping(self, skip_unreadable: bool = True,
                       phase: str = 'train',
                       bad_image_dir: Optional[str] = None,
                       max_fraction: Optional[float] = DEFAULT_MAX_FRACTION,
                       min_count: int = DEFAULT_MIN_COUNT) -> None:
        self.skip_unreadable = skip_unreadable
        self.recorder = BadImageRecorder(phase, bad_image_dir, max_fraction,
                                         min_count)

    def _skip(self, error: UnreadableImageError) -> None:
        if not self.skip_unreadable:
            raise error
        self.recorder.skip(error)


@TRANSFORMS.register_module()
class LoadImageOrSkip(SkipsUnreadable, LoadImageFromFile):
    """``LoadImageFromFile`` (same arguments and outputs) that returns
    ``None`` for an unreadable image after reporting it; see the module
    docstring and :class:`SkipsUnreadable` for the extra arguments."""

    def __init__(self, *args, skip_unreadable: bool = True,
                 phase: str = 'train', bad_image_dir: Optional[str] = None,
                 max_fraction: Optional[float] = DEFAULT_MAX_FRACTION,
                 min_count: int = DEFAULT_MIN_COUNT, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_skipping(skip_unreadable, phase, bad_image_dir,
                            max_fraction, min_count)

    def transform(self, results: dict) -> Optional[dict]:
        if self.imdecode_backend != 'cv2' or \
                self.color_type not in _CV2_FLAGS or \
                self.file_client_args is not None:
            return self._transform_other(results)
        filename = results['img_path']
        self.recorder.read()
        try:
            img = decode_checked(
                read_bytes(filename, self.backend_args), filename,
                _CV2_FLAGS[self.color_type])
        except UnreadableImageError as e:
            self._skip(e)
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _transform_other(self, results: dict) -> Optional[dict]:
        """Another decoding backend or colour type: mmcv's loader, with its
        errors turned into a report naming the file."""
        filename = results['img_path']
        self.recorder.read()
        try:
            out = super().transform(results)
        except Exception as e:  # mmcv raises many kinds for a bad file
            self._skip(UnreadableImageError(
                filename, f'{type(e).__name__}: {e}'))
            return None
        return out
