"""ImageNet-layout dataset and the training transforms mmcv does not have.

mmcv already provides ``RandomFlip``, ``Resize``, ``CenterCrop``; this module
adds what the paper's pipeline needs beyond them: loading that names
unreadable files, ``RandomResizedCrop``, timm's ``RandAugment``
(``rand-m9-mstd0.5-inc1``), ``ColorJitter`` and ``PackClsInputs``.
Images stay BGR ``uint8 [H, W, 3]`` until the data preprocessor.
"""
import math
import os
import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.fileio import get
from mmengine.logging import print_log
from mmengine.registry import DATASETS, TRANSFORMS
from mmengine.structures import BaseDataElement

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                  '.tiff', '.webp')

_LAYOUT_HELP = """Expected one of the ImageNet layouts:
  {root}/{prefix}/<class_name>/<image>.JPEG      (class sub-folders), or
  an annotation file of "<relative path> <label>" lines (ann_file=...).
Prepare ImageNet as usual (train/ and val/ split into class folders), or run
`make demo` to train on the generated synthetic set instead."""


@DATASETS.register_module()
class ImageNetFolder(BaseDataset):
    """Images in the ImageNet layouts people already have.

    Args:
        data_root: dataset root.
        data_prefix: ``dict(img_path='train')``: the image folder under it.
        ann_file: optional ``"path label"`` list (relative to ``data_root``);
            without it the class sub-folders of the image folder are the
            classes, in sorted order.
        classes: class names, or a text file with one name per line
            (relative to ``data_root``); default: the folder names, or the
            labels as strings.
    """

    def __init__(self, data_root: str, data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 classes: Union[None, str, Sequence[str]] = None,
                 **kwargs) -> None:
        if not os.path.isdir(data_root):
            raise FileNotFoundError(
                f'dataset root {data_root!r} does not exist.\n' +
                _LAYOUT_HELP.format(root=data_root, prefix='train'))
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        self._classes_arg = classes
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         ann_file=ann_file, **kwargs)

    def _class_names(self) -> Optional[List[str]]:
        c = self._classes_arg
        if c is None:
            return None
        if isinstance(c, str):
            path = c if os.path.isabs(c) else os.path.join(self.data_root, c)
            with open(path) as f:
                return [line.strip() for line in f if line.strip()]
        return list(c)

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        if self.ann_file:
            samples = self._from_ann_file(img_dir)
            classes = self._class_names() or [
                str(i) for i in range(max(s[1] for s in samples) + 1)]
        else:
            samples, classes = self._from_folders(img_dir,
                                                  self._class_names())
        bad = sorted({lab for _, lab in samples if not 0 <= lab < len(classes)})
        if bad:
            raise ValueError(f'labels {bad[:10]} are outside the '
                             f'{len(classes)} classes')
        self._metainfo['classes'] = tuple(classes)
        return [dict(img_path=p, gt_label=lab) for p, lab in samples]

    def _from_ann_file(self, img_dir: str) -> List[Tuple[str, int]]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f'annotation file {self.ann_file} not '
                                    'found.\n' + _LAYOUT_HELP.format(
                                        root=self.data_root, prefix=img_dir))
        samples = []
        with open(self.ann_file) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(f'{self.ann_file}:{n}: expected "<path> '
                                     f'<label>", got {line.strip()!r}')
                samples.append((os.path.join(img_dir, parts[0]),
                                int(parts[1])))
        if not samples:
            raise ValueError(f'annotation file {self.ann_file} is empty')
        return samples

    def _from_folders(self, img_dir: str, given: Optional[List[str]]
                      ) -> Tuple[List[Tuple[str, int]], List[str]]:
        """Labels follow ``given`` (e.g. a synset list) when it is set,
        else the sorted folder names."""
        if not os.path.isdir(img_dir):
            raise FileNotFoundError(
                f'image folder {img_dir!r} does not exist.\n' +
                _LAYOUT_HELP.format(root=self.data_root, prefix=img_dir))
        classes = sorted(e.name for e in os.scandir(img_dir) if e.is_dir())
        if not classes:
            raise FileNotFoundError(f'no class sub-folders in {img_dir!r}.\n'
                                    + _LAYOUT_HELP.format(
                                        root=self.data_root, prefix=img_dir))
        if given is not None:
            if sorted(given) != classes:
                raise ValueError(
                    f'the class names given do not match the class folders '
                    f'of {img_dir}: missing folders '
                    f'{sorted(set(given) - set(classes))[:10]}, folders not '
                    f'named {sorted(set(classes) - set(given))[:10]}')
            classes = list(given)
        samples, empty = [], []
        for label, name in enumerate(classes):
            folder = os.path.join(img_dir, name)
            files = sorted(
                os.path.join(dp, f) for dp, _, fs in os.walk(folder)
                for f in fs if f.lower().endswith(IMG_EXTENSIONS))
            if not files:
                empty.append(folder)
            samples += [(f, label) for f in files]
        if empty:
            raise ValueError(f'class folder(s) without images ({IMG_EXTENSIONS}'
                             f'): {empty}')
        return samples, classes


# -- transforms --------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``results['img_path']`` as BGR ``uint8``.

    An unreadable or corrupt file is reported with a warning naming it and
    the sample is dropped (``None``): in training the dataset draws another
    sample; at test time the dataset stops with an error right after.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            img = mmcv.imfrombytes(get(path), flag='color', channel_order='bgr')
            if img is None:
                raise ValueError('the image could not be decoded')
        except Exception as e:  # any reader error: name the file
            print_log(f'skipping unreadable image {path}: {e}',
                      logger='current', level=30)
            return None
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area (``scale`` of the image) and aspect ratio
    (``ratio``), resize to ``size`` (torchvision's algorithm: 10 tries, then a
    centre crop at the closest valid ratio)."""

    def __init__(self, size: Union[int, Tuple[int, int]],
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.scale, self.ratio = scale, ratio
        self.interpolation, self.backend = interpolation, backend

    def crop_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * random.uniform(*self.scale)
            aspect = math.exp(random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return (random.randint(0, h - ch), random.randint(0, w - cw),
                        ch, cw)
        in_ratio = w / h
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        img = results['img']
        top, left, ch, cw = self.crop_box(*img.shape[:2])
        img = img[top:top + ch, left:left + cw]
        img = mmcv.imresize(img, (self.size[1], self.size[0]),
                            interpolation=self.interpolation,
                            backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        return results


def _signed(value: float) -> float:
    return value if random.random() < 0.5 else -value


def _level(m: float, max_value: float) -> float:
    return m / 10. * max_value


# timm's "increasing" RandAugment ops on a BGR uint8 image, magnitude 0..10.
_OPS: Dict[str, Callable] = {
    'AutoContrast': lambda img, m, fill: mmcv.auto_contrast(img),
    'Equalize': lambda img, m, fill: mmcv.imequalize(img),
    'Invert': lambda img, m, fill: mmcv.iminvert(img),
    'Rotate': lambda img, m, fill: mmcv.imrotate(
        img, _signed(_level(m, 30.)), border_value=fill,
        interpolation='bilinear'),
    'PosterizeIncreasing': lambda img, m, fill: mmcv.posterize(
        img, 4 - int(_level(m, 4))),
    'SolarizeIncreasing': lambda img, m, fill: mmcv.solarize(
        img, 256 - int(_level(m, 256))),
    'SolarizeAdd': lambda img, m, fill: np.where(
        img < 128, np.clip(img.astype(np.int32) + int(_level(m, 110)), 0,
                           255), img).astype(np.uint8),
    'ColorIncreasing': lambda img, m, fill: mmcv.adjust_color(
        img, 1 + _signed(_level(m, .9))),
    'ContrastIncreasing': lambda img, m, fill: mmcv.adjust_contrast(
        img, 1 + _signed(_level(m, .9))),
    'BrightnessIncreasing': lambda img, m, fill: mmcv.adjust_brightness(
        img, 1 + _signed(_level(m, .9))),
    'SharpnessIncreasing': lambda img, m, fill: mmcv.adjust_sharpness(
        img, 1 + _signed(_level(m, .9))),
    'ShearX': lambda img, m, fill: mmcv.imshear(
        img, _signed(_level(m, .3)), 'horizontal', border_value=fill,
        interpolation='bilinear'),
    'ShearY': lambda img, m, fill: mmcv.imshear(
        img, _signed(_level(m, .3)), 'vertical', border_value=fill,
        interpolation='bilinear'),
    'TranslateXRel': lambda img, m, fill: mmcv.imtranslate(
        img, _signed(_level(m, .45)) * img.shape[1], 'horizontal',
        border_value=fill),
    'TranslateYRel': lambda img, m, fill: mmcv.imtranslate(
        img, _signed(_level(m, .45)) * img.shape[0], 'vertical',
        border_value=fill),
}


@TRANSFORMS.register_module()
class RandAugment(BaseTransform):
    """timm's RandAugment ``rand-m{magnitude}-mstd{magnitude_std}-inc1``:
    ``num_ops`` ops drawn with replacement from the 15 "increasing" ops, each
    applied with probability ``op_prob`` at a magnitude drawn from
    ``N(magnitude, magnitude_std)`` clipped to [0, 10]. ``fill`` (BGR) paints
    the border of geometric ops (timm: the ImageNet mean)."""

    def __init__(self, num_ops: int = 2, magnitude: float = 9.,
                 magnitude_std: float = 0.5, op_prob: float = 0.5,
                 fill: Sequence[int] = (104, 116, 124),
                 ops: Optional[Sequence[str]] = None) -> None:
        ops = list(ops or _OPS)
        unknown = [o for o in ops if o not in _OPS]
        if unknown:
            raise ValueError(f'unknown RandAugment ops {unknown}; known: '
                             f'{list(_OPS)}')
        self.ops, self.num_ops = ops, num_ops
        self.magnitude, self.magnitude_std = magnitude, magnitude_std
        self.op_prob, self.fill = op_prob, tuple(fill)

    def transform(self, results: dict) -> dict:
        img = results['img']
        for name in random.choices(self.ops, k=self.num_ops):
            if random.random() > self.op_prob:
                continue
            m = self.magnitude
            if self.magnitude_std > 0:
                m = random.gauss(m, self.magnitude_std)
            m = min(10., max(0., m))
            img = _OPS[name](img, m, self.fill)
        results['img'] = np.ascontiguousarray(img)
        return results


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast and saturation factors in
    ``[1 - x, 1 + x]``, applied in random order (torchvision's ColorJitter
    without hue, as timm's ``--color-jitter 0.4``)."""

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4) -> None:
        self.amounts = dict(brightness=brightness, contrast=contrast,
                            saturation=saturation)

    def transform(self, results: dict) -> dict:
        img = results['img']
        fns = dict(brightness=mmcv.adjust_brightness,
                   contrast=mmcv.adjust_contrast, saturation=mmcv.adjust_color)
        order = list(fns)
        random.shuffle(order)
        for name in order:
            x = self.amounts[name]
            if x > 0:
                img = fns[name](img, random.uniform(max(0., 1 - x), 1 + x))
        results['img'] = img
        return results


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """``img [H, W, 3] uint8`` -> ``inputs [3, H, W]`` tensor and a data
    sample with ``gt_label`` and the image meta information."""

    meta_keys = ('img_path', 'ori_shape', 'img_shape', 'flip')

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        sample = BaseDataElement(metainfo={
            k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            sample.gt_label = torch.tensor(int(results['gt_label']))
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
