"""Decoding with the random resized crop, random erasing and packing:
mmpretrain's transforms with the same semantics, faster.

:class:`DecodeRandomResizedCrop` replaces ``LoadImageFromFile`` +
``RandomResizedCrop``: it reads the image size from the file header, draws
the crop box in full-image coordinates with mmpretrain's own
``RandomResizedCrop.rand_crop_params`` (torchvision's algorithm), and only
then decodes, at a reduced JPEG scale (libjpeg's DCT-domain scaling through
OpenCV's ``IMREAD_REDUCED_COLOR_*``) when the crop will be shrunk by 2x or
more anyway; the crop is resized without leaving uint8.
"""
import io
import math
from typing import Optional, Tuple

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import TRANSFORMS
from mmpretrain.datasets.transforms import (
    PackInputs,
    RandomErasing,
    RandomResizedCrop,
)
from PIL import Image

from ..bad_images import (
    DEFAULT_MAX_FRACTION,
    DEFAULT_MIN_COUNT,
    UnreadableImageError,
    decode_checked,
    read_bytes,
)
from .loading import SkipsUnreadable

# libjpeg's DCT-domain scale factors, through OpenCV
_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}
# EXIF orientations that swap height and width (cv2 applies them on decode)
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
_PIL_FILTERS = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}


def resize_uint8(img: np.ndarray, size: Tuple[int, int],
                 interpolation: str) -> np.ndarray:
    """``[H, W, C]`` uint8 (any strides) -> ``[h, w, C]`` uint8 with an
    antialiased bilinear/bicubic filter, ``size = (h, w)``.

    PIL's filters (what mmpretrain's ``backend='pillow'`` runs) through
    torch's uint8 kernel (``F.interpolate(..., antialias=True)``), which
    computes the same separable filter (cubic a = -0.5, support scaled by
    the shrink factor, normalised weights) in 16-bit fixed point with SIMD:
    3-5x faster than PIL on one core and without the numpy -> PIL -> numpy
    copies. Its weights round differently from PIL's 22-bit ones, so some
    pixels differ by a grey level (a few in a thousand on most crops, up to
    a quarter on some enlarged ones): PSNR >= 50 dB against PIL (tested),
    far below the JPEG's own error.
    """
    # torch takes its SIMD uint8 path only for a channels-last batch (the
    # crop view has the full image's row stride: made contiguous here)
    t = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).contiguous(
        memory_format=torch.channels_last)
    out = F.interpolate(t, size=size, mode=interpolation, antialias=True)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())


def resize_box_pil(img: np.ndarray, box: Tuple[float, float, float, float],
                   size: Tuple[int, int], interpolation: str) -> np.ndarray:
    """The sub-pixel box ``(x0, y0, x1, y1)`` of ``img`` resized to
    ``size = (h, w)`` by PIL (its ``box`` argument keeps fractional
    coordinates, which a crop would round). Only the box plus the filter's
    support is handed to PIL, so PIL's copy stays small."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    support = 2 if interpolation == 'bicubic' else 1
    mx = int(math.ceil(support * max((x1 - x0) / size[1], 1))) + 1
    my = int(math.ceil(support * max((y1 - y0) / size[0], 1))) + 1
    left, top = max(int(x0) - mx, 0), max(int(y0) - my, 0)
    right = min(int(math.ceil(x1)) + mx, w)
    bottom = min(int(math.ceil(y1)) + my, h)
    pil = Image.fromarray(np.ascontiguousarray(img[top:bottom, left:right]))
    out = pil.resize((size[1], size[0]), _PIL_FILTERS[interpolation],
                     box=(x0 - left, y0 - top, x1 - left, y1 - top))
    return np.array(out)  # writable, as later transforms expect


def jpeg_reduction(crop_hw: Tuple[int, int], out_hw: Tuple[int, int],
                   max_factor: int = 8) -> int:
    """The largest DCT scale factor (1, 2, 4 or 8) by which a crop of
    ``crop_hw`` can be decoded and still be at least ``out_hw``: the factor
    by which the resize will shrink it anyway."""
    shrink = min(crop_hw[0] / out_hw[0], crop_hw[1] / out_hw[1])
    factor = 1
    while factor * 2 <= min(shrink, max_factor):
        factor *= 2
    return factor


# start-of-frame markers (baseline, progressive, lossless, arithmetic...)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data: bytes) -> Optional[Tuple[int, int, bool]]:
    """``(height, width, has_exif)`` from a JPEG's frame header, or
    ``None`` if ``data`` does not look like a JPEG.

    Why ours: walking the marker segments to the start-of-frame takes a
    few microseconds; ``PIL.Image.open`` parses every segment into Python
    objects and takes about 60 us, 5% of decoding the image."""
    if data[:2] != b'\xff\xd8':
        return None
    i, n, has_exif = 2, len(data), False
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], 'big')
        if marker in _JPEG_SOF:
            return (int.from_bytes(data[i + 5:i + 7], 'big'),
                    int.from_bytes(data[i + 7:i + 9], 'big'), has_exif)
        if marker == 0xE1 and data[i + 4:i + 10] == b'Exif\x00\x00':
            has_exif = True
        i += 2 + length
    return None


def read_header(data: bytes) -> Optional[Tuple[int, int, bool]]:
    """``(height, width, is_jpeg)`` of an encoded image as OpenCV will
    decode it (EXIF orientation applied), from its header alone; ``None``
    when it cannot be read so (the caller then decodes in full)."""
    jpeg = jpeg_size(data)
    if jpeg is not None and not jpeg[2]:
        return jpeg[0], jpeg[1], True
    try:  # other formats, and the EXIF orientation
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            is_jpeg = im.format == 'JPEG'
            if im.getexif().get(0x0112, 1) in _TRANSPOSING_ORIENTATIONS:
                width, height = height, width
    except Exception:
        return None
    return height, width, is_jpeg


@TRANSFORMS.register_module()
class DecodeRandomResizedCrop(SkipsUnreadable, RandomResizedCrop):
    """``LoadImageFromFile`` + mmpretrain's ``RandomResizedCrop`` in one
    step, decoding only as much of the image as the crop needs.

    The crop box is drawn first, in full-image coordinates, from the size in
    the file header, by the parent's ``rand_crop_params`` (the same
    algorithm and random stream as mmpretrain's ``RandomResizedCrop``, so
    the crop distribution is unchanged). When the crop will be shrunk by a
    factor ``s >= 2`` in both directions, a JPEG is decoded at 1/s scale in
    the DCT domain (``cv2.IMREAD_REDUCED_COLOR_s``; ``s`` = 2, 4 or 8) and
    the box, scaled by the reduced image's size, is resized with PIL's
    sub-pixel ``box``; otherwise the image is decoded in full exactly as
    ``LoadImageFromFile`` does (``cv2.imdecode``, EXIF orientation applied)
    and the crop view is resized by :func:`resize_uint8`.

    Why ours: mmpretrain's pillow path converts numpy -> PIL -> numpy and
    PIL's resampling alone takes 1.4-1.9 ms per 224 crop on one core; this
    one takes about a quarter of that, and large images are decoded at a
    fraction of their pixels.

    Args:
        scale, crop_ratio_range, aspect_ratio_range, max_attempts,
        interpolation, backend: as mmpretrain's ``RandomResizedCrop``
            (``backend='pillow'`` with ``'bilinear'``/``'bicubic'`` takes the
            fast path; other combinations resize with ``mmcv.imresize``
            like the parent).
        reduced_decode: allow decoding JPEGs at a reduced scale.
        backend_args: as ``LoadImageFromFile``; ``ignore_empty`` is
            accepted for its signature, skipping is ``skip_unreadable``'s.
        skip_unreadable, phase, bad_image_dir, max_fraction, min_count: an
            unreadable image (missing, empty, truncated, not an image, a
            header that disagrees with the pixels) is reported and the
            transform returns ``None``, as ``LoadImageOrSkip`` does.

    Adds ``img``, ``img_shape`` (the output size) and ``ori_shape`` (the
    full image's size) to the results, as the two transforms it replaces.
    """

    def __init__(self, scale, *, reduced_decode: bool = True,
                 ignore_empty: bool = False,
                 backend_args: Optional[dict] = None,
                 skip_unreadable: bool = True, phase: str = 'train',
                 bad_image_dir: Optional[str] = None,
                 max_fraction: Optional[float] = DEFAULT_MAX_FRACTION,
                 min_count: int = DEFAULT_MIN_COUNT, **kwargs) -> None:
        super().__init__(scale, **kwargs)
        self.reduced_decode = reduced_decode
        self.ignore_empty = ignore_empty
        self.backend_args = backend_args
        self._init_skipping(skip_unreadable, phase, bad_image_dir,
                            max_fraction, min_count)

    @staticmethod
    def _decode(data: bytes, path: str, factor: int,
                header_hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
        flag = _REDUCED_FLAGS[factor] if factor > 1 else cv2.IMREAD_COLOR
        return decode_checked(data, path, flag,
                              header_hw if factor == 1 else None)

    @property
    def _out_hw(self) -> Tuple[int, int]:
        return self.scale[1], self.scale[0]  # self.scale is (w, h)

    @property
    def _pil_filter(self) -> bool:
        """PIL's bilinear/bicubic resize: the fast path, the one a reduced
        decode can feed (its sub-pixel ``box``)."""
        return self.backend == 'pillow' and self.interpolation in _PIL_FILTERS

    def _resize(self, img: np.ndarray) -> np.ndarray:
        if self._pil_filter:
            return resize_uint8(img, self._out_hw, self.interpolation)
        return mmcv.imresize(img, tuple(self.scale), backend=self.backend,
                             interpolation=self.interpolation)

    def _decode_crop(self, filename: str):
        """(the resized crop, the full image's (height, width)), or
        :class:`UnreadableImageError`."""
        data = read_bytes(filename, self.backend_args)
        header = read_header(data) if data else None
        if header is None:  # decode in full, then crop as the parent does
            img = self._decode(data, filename, 1)
            (height, width), is_jpeg = img.shape[:2], False
        else:
            height, width, is_jpeg = header
        # the box in full-image coordinates, by mmpretrain's algorithm
        top, left, crop_h, crop_w = self.rand_crop_params(
            np.empty((height, width, 0), np.uint8))
        factor = 1
        if self.reduced_decode and is_jpeg and self._pil_filter:
            factor = jpeg_reduction((crop_h, crop_w), self._out_hw)
        if factor > 1:
            img = self._decode(data, filename, factor)
            # pixel i of the reduced image covers pixels [s*i, s*i + s) of
            # the full one (its size is rounded up: ceil(H/s) x ceil(W/s))
            want = (-(-height // factor), -(-width // factor))
            if img.shape[:2] != want:
                raise UnreadableImageError(
                    filename, f'the header says {height}x{width}, the '
                    f'pixels decode to {img.shape[0]}x{img.shape[1]} at '
                    f'1/{factor} scale (expected {want[0]}x{want[1]})')
            img = resize_box_pil(
                img, (left / factor, top / factor, (left + crop_w) / factor,
                      (top + crop_h) / factor),
                self._out_hw, self.interpolation)
        else:
            if header is not None:
                img = self._decode(data, filename, 1, (height, width))
            img = self._resize(img[top:top + crop_h, left:left + crop_w])
        return img, (height, width)

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        self.recorder.read()
        try:
            img, (height, width) = self._decode_crop(filename)
        except UnreadableImageError as e:
            self._skip(e)
            return None
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = (height, width)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', reduced_decode={self.reduced_decode})').replace(
                    'RandomResizedCrop', type(self).__name__, 1)


@TRANSFORMS.register_module()
class FastRandomErasing(RandomErasing):
    """mmpretrain's ``RandomErasing`` (same probability, box and fill
    distribution), with the per-pixel normal fill (``mode='rand'`` with
    ``fill_std``) drawn by OpenCV straight into uint8.

    Why ours: mmpretrain draws float64 normals with numpy's legacy
    generator, then converts and clips them, about 1 ms for a typical box
    at 224; ``cv2.randn`` fills the uint8 patch in a tenth of that. The
    values are the same distribution: mmpretrain truncates
    ``N(fill_color, fill_std)`` to an integer and clips to [0, 255];
    ``cv2.randn`` rounds and saturates, so its mean is lowered by half a
    grey level (``round(x - 0.5) = floor(x)``). OpenCV's generator is
    seeded from numpy's global one for every box, so runs stay
    reproducible under mmengine's seeding and workers differ.
    """

    def _fill_pixels(self, img, top, left, h, w):
        if self.mode != 'rand' or self.fill_std is None:
            return super()._fill_pixels(img, top, left, h, w)
        patch = np.empty((h, w, 3), np.uint8)
        cv2.setRNGSeed(int(np.random.randint(2**31)))
        cv2.randn(patch, tuple(c - 0.5 for c in self.fill_color),
                  tuple(self.fill_std))
        img[top:top + h, left:left + w] = patch
        return img


@TRANSFORMS.register_module()
class FastPackInputs(PackInputs):
    """mmpretrain's ``PackInputs`` with the HWC -> CHW copy of a uint8
    image done by numpy.

    Why ours: for a contiguous image mmpretrain permutes a torch tensor and
    calls ``.contiguous()``, whose uint8 copy takes about 0.1-0.3 ms at 224
    on one core; numpy's transposing copy takes about half of that. Same
    output (a contiguous ``[C, H, W]`` uint8 tensor) and data sample.
    """

    @staticmethod
    def format_input(input_):
        if isinstance(input_, np.ndarray) and input_.ndim == 3:
            return torch.from_numpy(
                np.ascontiguousarray(input_.transpose(2, 0, 1)))
        return PackInputs.format_input(input_)
