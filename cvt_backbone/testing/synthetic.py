"""A deterministic synthetic image dataset, written in the ImageNet layout.

Scenes of a noisy gradient background and coloured objects (filled shapes,
rings, striped and checkered patches). A classification image's class is the
kind of its large object; :func:`make_scene` composes several objects with
their masks for dense-prediction sets.

``generate_classification(root)`` writes::

    root/train/<class>/<class>_00000.png ...
    root/val/<class>/...
    root/classes.txt        one class name per line
    root/meta/train.txt     "<class>/<file> <label>" per line (annotation list)
    root/meta/val.txt

Every generator runs one skeleton (:func:`_write_once`): a folder that holds
a finished set with the same spec (its ``spec.json``, written last) is left
alone; otherwise the set is written and ``generating ...`` / ``wrote ...``
are reported through mmengine's current logger (``verbose=False`` keeps it
quiet).

``generate_jpeg_classification(root)`` writes the same layout with
ImageNet-sized photo-like JPEGs (:func:`photo_like_image`), for measuring
the input pipeline (``tools/analysis_tools/benchmark.py --cases pipeline``).

``generate_transfer_set(root, TransferSpec(dataset=...))`` writes stand-ins
for the transfer study's sets (CIFAR-10/100, Oxford-IIIT Pets, Flowers-102)
in each one's own on-disk format, as mmpretrain's dataset classes read them
(see the section near the end).
"""
import json
import os
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

CLASSES = ('circle', 'square', 'triangle', 'ring', 'stripes', 'checker')


@dataclass
class SyntheticSpec:
    image_size: int = 64
    train_per_class: int = 300
    val_per_class: int = 50
    seed: int = 0
    max_distractors: int = 0  # small objects of other classes per image
    # each class draws its object from its own hue band (60 degrees apart),
    # a cue a network trained from scratch for minutes on a CPU picks up
    class_hues: bool = True
    version: int = 3  # bump when the drawing changes


def _color(rng: np.random.RandomState, avoid: Optional[np.ndarray] = None
           ) -> np.ndarray:
    while True:
        c = rng.randint(0, 256, 3)
        if avoid is None or np.abs(c.astype(int) - avoid).sum() > 180:
            return c


def class_color(rng: np.random.RandomState, label: int,
                n_classes: int = len(CLASSES)) -> np.ndarray:
    """A BGR colour from class ``label``'s hue band (width 30 degrees,
    centres spread evenly over the hue circle), random saturation/value."""
    hue = (label * 360. / n_classes + rng.uniform(-15, 15)) % 360
    hsv = np.array([[[hue / 2, rng.uniform(150, 255), rng.uniform(150, 255)]]],
                   np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(int)


def object_color(rng: np.random.RandomState, label: int, class_hues: bool,
                 bg_mean: np.ndarray) -> np.ndarray:
    """An object's BGR colour: from class ``label``'s hue band with
    ``class_hues``, else random and far from the background's mean colour
    ``bg_mean``."""
    if class_hues:
        return class_color(rng, label)
    return _color(rng, avoid=bg_mean)


def _background(rng: np.random.RandomState, size: int) -> np.ndarray:
    """Smooth two-colour gradient plus noise, BGR uint8 ``[S, S, 3]``."""
    a, b = _color(rng), _color(rng)
    t = np.linspace(0, 1, size)[:, None, None]
    img = a * (1 - t) + b * t
    if rng.rand() < 0.5:
        img = img.transpose(1, 0, 2)
    img = img + rng.normal(0, 12, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_object(img: np.ndarray, mask: np.ndarray, kind: str,
                rng: np.random.RandomState, center: Tuple[int, int],
                radius: int, color: np.ndarray) -> None:
    """Draw one object of ``kind`` on ``img`` and set its pixels in ``mask``
    (``uint8 [S, S]``, 1 inside)."""
    cx, cy = center
    m = np.zeros(mask.shape, np.uint8)
    if kind == 'circle':
        cv2.circle(m, (cx, cy), radius, 1, -1)
    elif kind == 'square':
        angle = rng.uniform(0, 90)
        box = cv2.boxPoints(((cx, cy), (2 * radius, 2 * radius), angle))
        cv2.fillPoly(m, [box.astype(np.int32)], 1)
    elif kind == 'triangle':
        phase = rng.uniform(0, 2 * np.pi)
        pts = [(cx + radius * np.cos(phase + k * 2 * np.pi / 3),
                cy + radius * np.sin(phase + k * 2 * np.pi / 3))
               for k in range(3)]
        cv2.fillPoly(m, [np.array(pts, np.int32)], 1)
    elif kind == 'ring':
        cv2.circle(m, (cx, cy), radius, 1, max(2, radius // 3))
    elif kind in ('stripes', 'checker'):
        size = mask.shape[0]
        yy, xx = np.mgrid[0:size, 0:size]
        period = rng.randint(4, 9)
        angle = rng.uniform(0, np.pi)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        if kind == 'stripes':
            pattern = (u // period) % 2 == 0
        else:
            pattern = ((u // period) + (v // period)) % 2 == 0
        region = np.zeros(mask.shape, np.uint8)
        x0, y0 = max(cx - radius, 0), max(cy - radius, 0)
        region[y0:cy + radius, x0:cx + radius] = 1
        m = (region.astype(bool) & pattern).astype(np.uint8)
    else:
        raise ValueError(f'unknown object kind {kind!r}; known: {CLASSES}')
    img[m.astype(bool)] = color
    mask[m.astype(bool)] = 1


def make_scene(rng: np.random.RandomState, size: int, kinds: List[str],
               min_radius: int, max_radius: int, class_hues: bool = True
               ) -> Tuple[np.ndarray, List[Dict]]:
    """An image with one object of each kind in ``kinds`` (drawn in order, so
    later ones may occlude earlier ones), each coloured from its class's hue
    band with ``class_hues`` (as the classification set), else in a random
    colour that stands out from the background. Returns the BGR image and,
    per object, ``dict(kind, mask)`` of its visible pixels."""
    img = _background(rng, size)
    bg_mean = img.reshape(-1, 3).mean(0)
    objects: List[Dict] = []
    for kind in kinds:
        radius = rng.randint(min_radius, max_radius + 1)
        center = (rng.randint(radius, size - radius + 1),
                  rng.randint(radius, size - radius + 1))
        mask = np.zeros((size, size), np.uint8)
        color = object_color(rng, CLASSES.index(kind), class_hues, bg_mean)
        draw_object(img, mask, kind, rng, center, radius, color)
        for obj in objects:  # occlusion
            obj['mask'][mask.astype(bool)] = 0
        objects.append(dict(kind=kind, mask=mask))
    return img, objects


def classification_image(rng: np.random.RandomState, label: int,
                         size: int, max_distractors: int = 0,
                         class_hues: bool = True) -> np.ndarray:
    """One image of class ``CLASSES[label]``: a large object of that kind
    (coloured from the class's hue band with ``class_hues``) on a noisy
    gradient, plus up to ``max_distractors`` small objects of other kinds."""
    others = [k for i, k in enumerate(CLASSES) if i != label]
    n_distract = rng.randint(0, max_distractors + 1)
    distract = [others[i] for i in rng.choice(len(others), n_distract,
                                              replace=False)]
    s = size // 64 or 1
    img = _background(rng, size)
    for kind in distract:
        r = rng.randint(3 * s, 6 * s + 1)
        c = (rng.randint(r, size - r + 1), rng.randint(r, size - r + 1))
        draw_object(img, np.zeros((size, size), np.uint8), kind, rng, c, r,
                    _color(rng))
    r = rng.randint(size // 5, size // 3 + 1)
    c = (rng.randint(r, size - r + 1), rng.randint(r, size - r + 1))
    color = object_color(rng, label, class_hues, img.reshape(-1, 3).mean(0))
    draw_object(img, np.zeros((size, size), np.uint8), CLASSES[label], rng, c,
                r, color)
    return img


def _is_complete(root: str, spec) -> bool:
    try:
        with open(os.path.join(root, 'spec.json')) as f:
            return json.load(f) == asdict(spec)
    except (OSError, ValueError):
        return False


def _write_once(root: str, spec, what: str, write: Callable[[], str],
                verbose: bool = True) -> str:
    """The skeleton of every generator: unless ``root`` already holds a
    finished set with ``spec``, report ``generating <what> in <root> ...``,
    run ``write()`` (it returns what it wrote, e.g. ``'48 JPEGs'``), write
    ``spec.json`` last (it marks the set complete) and report ``wrote ...
    to <root>``; both lines go through mmengine's current logger when
    ``verbose``. Returns ``root``."""
    if _is_complete(root, spec):
        return root
    if verbose:
        print_log(f'generating {what} in {root} ...', logger='current')
    written = write()
    with open(os.path.join(root, 'spec.json'), 'w') as f:
        json.dump(asdict(spec), f)
    if verbose:
        print_log(f'wrote {written} to {root}', logger='current')
    return root


def _write_class_folders(root: str, spec, draw: Callable[
        [np.random.RandomState, int], np.ndarray], ext: str, stream: int,
        imwrite_params: Sequence[int] = ()) -> int:
    """The ImageNet folder layout both classification generators write:
    ``root/{train,val}/<class>/<class>_<i>.<ext>`` with the images
    ``draw(rng, label)`` gives (one ``RandomState`` per split and class,
    seeded by ``spec.seed``, ``stream``, the split, the label and
    ``spec.version``), ``meta/{train,val}.txt`` and ``classes.txt``.
    Returns the number of images."""
    os.makedirs(os.path.join(root, 'meta'), exist_ok=True)
    for split, per_class, offset in (('train', spec.train_per_class, 0),
                                     ('val', spec.val_per_class, 1)):
        lines = []
        for label, name in enumerate(CLASSES):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            rng = np.random.RandomState(
                [spec.seed, stream + offset, label, spec.version])
            for i in range(per_class):
                img = draw(rng, label)
                fname = f'{name}_{i:05d}.{ext}'
                cv2.imwrite(os.path.join(folder, fname), img,
                            list(imwrite_params))
                lines.append(f'{name}/{fname} {label}')
        with open(os.path.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(os.path.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    return len(CLASSES) * (spec.train_per_class + spec.val_per_class)


def generate_classification(root: str, spec: SyntheticSpec = SyntheticSpec(),
                            verbose: bool = True) -> str:
    """Write the classification set under ``root`` (see module docstring)
    unless it is already there. Returns ``root``."""

    def write() -> str:
        n = _write_class_folders(
            root, spec, ext='png', stream=0,
            draw=lambda rng, label: classification_image(
                rng, label, spec.image_size, spec.max_distractors,
                spec.class_hues))
        return f'{n} images of {len(CLASSES)} classes'

    return _write_once(root, spec, 'the synthetic dataset', write, verbose)


# -- dense prediction ----------------------------------------------------
# The same scenes written twice: as a COCO-format instance set (boxes and RLE
# masks of each object's visible pixels) and as an ADE-style semantic set
# (images + PNG label maps, 0 = background, k = CLASSES[k - 1]).
#
#   generate_detection(root):    root/{train,val}/<id>.png and
#       root/annotations/instances_{train,val}.json
#   generate_segmentation(root): root/images/{training,validation}/<id>.png
#       and root/annotations/{training,validation}/<id>.png
#
# Image i of a split is drawn from its own seed (spec.seed, split, i,
# spec.version), so both sets hold exactly the same scenes.

DENSE_SPLITS = (('train', 'training', 0), ('val', 'validation', 1))
SEG_CLASSES = ('background', ) + CLASSES


@dataclass
class DenseSpec:
    image_size: int = 128
    train_images: int = 160
    val_images: int = 40
    min_objects: int = 1
    max_objects: int = 4
    min_radius: int = 12
    max_radius: int = 30
    min_area: int = 30  # objects with fewer visible pixels are dropped
    # objects drawn from their class's hue band, as in the classification
    # set: one distribution, so a backbone pre-trained there (make demo)
    # transfers, and a cue the from-scratch CPU demos pick up quickly
    class_hues: bool = True
    seed: int = 0
    version: int = 2  # bump when the drawing changes


def _dense_count(spec: DenseSpec, split_offset: int) -> int:
    """How many images split ``split_offset`` (0 train, 1 val) holds."""
    return spec.val_images if split_offset else spec.train_images


def dense_scene(spec: DenseSpec, split_offset: int, index: int
                ) -> Tuple[np.ndarray, List[Dict]]:
    """Scene ``index`` of a split: BGR image and its objects
    ``dict(kind, label, mask)`` (label indexes ``CLASSES``; objects hidden
    below ``spec.min_area`` visible pixels are left out)."""
    rng = np.random.RandomState(
        [spec.seed, 100 + split_offset, index, spec.version])
    n = rng.randint(spec.min_objects, spec.max_objects + 1)
    kinds = [CLASSES[i] for i in rng.randint(0, len(CLASSES), n)]
    img, objects = make_scene(rng, spec.image_size, kinds, spec.min_radius,
                              spec.max_radius, spec.class_hues)
    kept = []
    for obj in objects:
        if int(obj['mask'].sum()) >= spec.min_area:
            kept.append(dict(kind=obj['kind'],
                             label=CLASSES.index(obj['kind']),
                             mask=obj['mask']))
    return img, kept


def coco_annotation(mask: np.ndarray, ann_id: int, image_id: int,
                    category_id: int) -> Dict:
    """A COCO instance annotation with a compressed-RLE mask; ``bbox`` is the
    mask's tight box ``[x, y, w, h]`` (pixel edges)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0]
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                segmentation=dict(size=[int(s) for s in rle['size']],
                                  counts=rle['counts'].decode('ascii')),
                area=float(mask.sum()), bbox=bbox, iscrowd=0)


def generate_detection(root: str, spec: DenseSpec = DenseSpec(),
                       verbose: bool = True) -> str:
    """Write the COCO-format instance set under ``root`` (see above) unless
    it is already there. Category ids are 1..6 in ``CLASSES`` order.
    Returns ``root``."""

    def write() -> str:
        os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
        categories = [dict(id=i + 1, name=name, supercategory='shape')
                      for i, name in enumerate(CLASSES)]
        n_objects = 0
        for split, _, offset in DENSE_SPLITS:
            os.makedirs(os.path.join(root, split), exist_ok=True)
            images, annotations = [], []
            for i in range(_dense_count(spec, offset)):
                img, objects = dense_scene(spec, offset, i)
                fname = f'{i:06d}.png'
                cv2.imwrite(os.path.join(root, split, fname), img)
                images.append(dict(id=i + 1, file_name=fname,
                                   height=spec.image_size,
                                   width=spec.image_size))
                for obj in objects:
                    annotations.append(coco_annotation(
                        obj['mask'], len(annotations) + 1, i + 1,
                        obj['label'] + 1))
            n_objects += len(annotations)
            with open(os.path.join(root, 'annotations',
                                   f'instances_{split}.json'), 'w') as f:
                json.dump(dict(images=images, annotations=annotations,
                               categories=categories), f)
        return (f'{spec.train_images + spec.val_images} images with '
                f'{n_objects} objects')

    return _write_once(root, spec, 'the synthetic COCO set', write, verbose)


def semantic_label_map(objects: List[Dict], size: int) -> np.ndarray:
    """``uint8 [S, S]``: 0 background, ``label + 1`` on each object's
    visible pixels."""
    seg = np.zeros((size, size), np.uint8)
    for obj in objects:
        seg[obj['mask'].astype(bool)] = obj['label'] + 1
    return seg


def generate_segmentation(root: str, spec: DenseSpec = DenseSpec(),
                          verbose: bool = True) -> str:
    """Write the ADE-style semantic set under ``root`` (see above) unless it
    is already there. Classes are ``SEG_CLASSES`` (background first, so use
    ``reduce_zero_label=False``). Returns ``root``."""

    def write() -> str:
        for _, split, offset in DENSE_SPLITS:
            img_dir = os.path.join(root, 'images', split)
            ann_dir = os.path.join(root, 'annotations', split)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(ann_dir, exist_ok=True)
            for i in range(_dense_count(spec, offset)):
                img, objects = dense_scene(spec, offset, i)
                cv2.imwrite(os.path.join(img_dir, f'{i:06d}.png'), img)
                cv2.imwrite(os.path.join(ann_dir, f'{i:06d}.png'),
                            semantic_label_map(objects, spec.image_size))
        with open(os.path.join(root, 'classes.txt'), 'w') as f:
            f.write('\n'.join(SEG_CLASSES) + '\n')
        return f'{spec.train_images + spec.val_images} images and label maps'

    return _write_once(root, spec, 'the synthetic ADE-style set', write,
                       verbose)


# -- ImageNet-sized JPEGs --------------------------------------------------
# What the input-pipeline benchmark decodes: no real photos can be
# downloaded here, so the images imitate what makes a photo cost what it
# costs to decode and augment: ImageNet's typical size (500 px long side,
# aspect ratios from 2:3 to 16:9), JPEG quality 92, and content with energy
# at every scale (1/f noise, smooth colour gradients, soft-edged shapes and
# sensor-like noise), so the entropy decoder has a photo's amount of work.
JPEG_ASPECTS = (4 / 3, 3 / 2, 1., 3 / 4, 5 / 4, 16 / 9, 2 / 3)


@dataclass
class JpegSpec:
    train_per_class: int = 50
    val_per_class: int = 5
    long_side: int = 500
    quality: int = 92
    noise: float = 8.  # std of the per-pixel noise (grey levels)
    seed: int = 0
    version: int = 1  # bump when the drawing changes


def photo_like_image(rng: np.random.RandomState, height: int, width: int,
                     noise: float = 8.) -> np.ndarray:
    """A BGR uint8 ``[height, width, 3]`` image with a photo's spread of
    detail: octaves of smooth random noise with amplitude falling as 0.72
    per octave (about 1/f), a colour gradient, 3-8 soft-edged blended
    shapes and Gaussian noise of std ``noise``."""
    img = np.zeros((height, width, 3), np.float32)
    long_side = max(height, width)
    amp, cells = 60., 4
    while cells <= long_side:
        small = rng.standard_normal(
            (max(2, height * cells // long_side),
             max(2, width * cells // long_side), 3)).astype(np.float32)
        img += amp * cv2.resize(small, (width, height),
                                interpolation=cv2.INTER_CUBIC)
        amp, cells = amp * 0.72, cells * 2
    a, b = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    img += (a * (1 - t) + b * t).astype(np.float32)
    for _ in range(rng.randint(3, 9)):
        color = rng.uniform(0, 255, 3).astype(np.float32)
        cx, cy = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(10, long_side // 3)
        mask = np.zeros((height, width), np.float32)
        if rng.rand() < 0.5:
            cv2.circle(mask, (cx, cy), r, 1., -1)
        else:
            cv2.rectangle(mask, (cx - r, cy - r // 2), (cx + r, cy + r // 2),
                          1., -1)
        mask = 0.7 * cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 3.))
        img = img * (1 - mask[..., None]) + mask[..., None] * color
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg_image_size(rng: np.random.RandomState, long_side: int
                    ) -> Tuple[int, int]:
    """``(height, width)`` with the long side ``long_side`` and an aspect
    ratio drawn from :data:`JPEG_ASPECTS`."""
    aspect = JPEG_ASPECTS[rng.randint(len(JPEG_ASPECTS))]
    if aspect >= 1:
        return int(round(long_side / aspect)), long_side
    return long_side, int(round(long_side * aspect))


def generate_jpeg_classification(root: str, spec: JpegSpec = JpegSpec(),
                                 verbose: bool = True) -> str:
    """Write ``root/{train,val}/<class>/<class>_<i>.JPEG`` (the 6 class
    names of :data:`CLASSES`, photo-like content that does not depend on
    the class), ``classes.txt`` and ``meta/{train,val}.txt``, unless a set
    with the same spec is there. Returns ``root``."""

    def draw(rng: np.random.RandomState, label: int) -> np.ndarray:
        h, w = jpeg_image_size(rng, spec.long_side)
        return photo_like_image(rng, h, w, spec.noise)

    def write() -> str:
        n = _write_class_folders(
            root, spec, draw, ext='JPEG', stream=200,
            imwrite_params=(cv2.IMWRITE_JPEG_QUALITY, spec.quality))
        return f'{n} JPEGs'

    return _write_once(root, spec, 'photo-like JPEGs', write, verbose)


# -- the transfer sets, in their own on-disk formats --------------------------
# What mmpretrain's CIFAR10, CIFAR100, OxfordIIITPet and Flowers102 read
# (mmpretrain 1.2.0), so the transfer configs run end to end without the
# real sets:
#
#   cifar10:    root/cifar-10-batches-py/data_batch_{1..5}, test_batch
#               (pickled dicts: 'data' uint8 [N, 3072] as R, G, B planes of
#               32 x 32, 'labels', 'filenames', 'batch_label') and
#               batches.meta ('label_names', 'num_cases_per_batch', 'num_vis')
#   cifar100:   root/cifar-100-python/train, test ('fine_labels',
#               'coarse_labels', ...) and meta ('fine_label_names',
#               'coarse_label_names')
#   pets:       root/annotations/{trainval,test}.txt ("<name> <class 1..37>
#               <species 1 cat | 2 dog> <breed id>" per line), list.txt,
#               root/images/<name>.jpg
#   flowers102: root/imagelabels.mat ('labels': 1 x N integers, classes
#               1..102), root/setid.mat ('trnid', 'valid', 'tstid': 1 x n
#               integer image numbers; mmpretrain indexes with them, so
#               they cannot be doubles), root/jpg/image_<5 digits>.jpg
#
# The images are the classification set's scenes; a label k draws the kind
# CLASSES[k % 6] from its own hue band (of n classes), so neighbouring
# labels of the 100-class sets look alike: these sets test formats and
# recipes, not accuracy. mmpretrain checks the real CIFAR files against
# their published md5 sums, which generated files cannot match: a reader
# of these (a test) replaces the sums with the generated files' own.

TRANSFER_SETS = dict(cifar10=10, cifar100=100, pets=37, flowers102=102)
PETS_CATS = 12  # Pets' first 12 class ids are cat breeds, the rest dogs


@dataclass
class TransferSpec:
    dataset: str = 'cifar10'  # one of TRANSFER_SETS
    train_images: int = 20
    test_images: int = 10
    image_size: int = 64  # long side of Pets/Flowers JPEGs (CIFAR: 32)
    seed: int = 0
    version: int = 1  # bump when the drawing changes


def transfer_labels(spec: TransferSpec) -> Tuple[List[int], List[int]]:
    """The 0-based labels of the train and test images of ``spec``, in the
    order the generator writes them (and mmpretrain reads them back): every
    class once before any repeats, as far as the counts allow."""
    n = TRANSFER_SETS[spec.dataset]
    rng = np.random.RandomState([spec.seed, 300, spec.version])
    labels = [int(k) for k in rng.permutation(
        np.arange(spec.train_images + spec.test_images) % n)]
    return labels[:spec.train_images], labels[spec.train_images:]


def _transfer_image(rng: np.random.RandomState, label: int, n_classes: int,
                    height: int, width: int) -> np.ndarray:
    """A BGR uint8 ``[height, width, 3]`` image of label ``label``."""
    size = max(height, width)
    img = _background(rng, size)
    r = rng.randint(size // 5, size // 3 + 1)
    c = (rng.randint(r, size - r + 1), rng.randint(r, size - r + 1))
    draw_object(img, np.zeros((size, size), np.uint8),
                CLASSES[label % len(CLASSES)], rng, c, r,
                class_color(rng, label, n_classes))
    return np.ascontiguousarray(img[:height, :width])


def _write_cifar(root: str, spec: TransferSpec, train: List[int],
                 test: List[int]) -> None:
    import pickle
    n = TRANSFER_SETS[spec.dataset]
    rng = np.random.RandomState([spec.seed, 301, spec.version])

    def batch(labels: List[int], name: str) -> Dict:
        imgs = [_transfer_image(rng, k, n, 32, 32)[..., ::-1]  # RGB
                for k in labels]
        data = np.stack(imgs).transpose(0, 3, 1, 2).reshape(len(labels), -1)
        entry = dict(batch_label=name, data=np.ascontiguousarray(data),
                     filenames=[f'synthetic_{name}_{i}.png'
                                for i in range(len(labels))])
        if spec.dataset == 'cifar10':
            entry['labels'] = list(labels)
        else:
            entry['fine_labels'] = list(labels)
            entry['coarse_labels'] = [k // 5 for k in labels]
        return entry

    if spec.dataset == 'cifar10':
        folder = os.path.join(root, 'cifar-10-batches-py')
        chunks = np.array_split(np.arange(len(train)), 5)
        files = {f'data_batch_{i + 1}': batch(
            [train[j] for j in idx], f'training batch {i + 1} of 5')
            for i, idx in enumerate(chunks)}
        files['test_batch'] = batch(test, 'testing batch 1 of 1')
        files['batches.meta'] = dict(
            label_names=[f'class_{k}' for k in range(n)],
            num_cases_per_batch=max(len(c) for c in chunks), num_vis=3072)
    else:
        folder = os.path.join(root, 'cifar-100-python')
        files = dict(train=batch(train, 'training batch 1 of 1'),
                     test=batch(test, 'testing batch 1 of 1'),
                     meta=dict(
                         fine_label_names=[f'class_{k}' for k in range(n)],
                         coarse_label_names=[f'superclass_{k}'
                                             for k in range(20)]))
    os.makedirs(folder, exist_ok=True)
    for name, obj in files.items():
        with open(os.path.join(folder, name), 'wb') as f:
            pickle.dump(obj, f, protocol=2)


def _write_pets(root: str, spec: TransferSpec, train: List[int],
                test: List[int]) -> None:
    rng = np.random.RandomState([spec.seed, 302, spec.version])
    os.makedirs(os.path.join(root, 'images'), exist_ok=True)
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    count: Dict[int, int] = {}
    lists = {}
    for split, labels in (('trainval', train), ('test', test)):
        lines = []
        for k in labels:
            count[k] = count.get(k, 0) + 1
            cat = k < PETS_CATS
            name = f'{"Breed" if cat else "breed"}{k + 1:02d}_{count[k]}'
            h, w = jpeg_image_size(rng, spec.image_size)
            cv2.imwrite(os.path.join(root, 'images', f'{name}.jpg'),
                        _transfer_image(rng, k, 37, h, w))
            breed = k + 1 if cat else k + 1 - PETS_CATS
            lines.append(f'{name} {k + 1} {1 if cat else 2} {breed}')
        lists[split] = lines
        with open(os.path.join(root, 'annotations', f'{split}.txt'),
                  'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(os.path.join(root, 'annotations', 'list.txt'), 'w') as f:
        f.write('#Image CLASS-ID SPECIES BREED ID\n'
                '#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n'
                '#BREED ID: 1-12:Cat 1-25:Dog\n')
        f.write('\n'.join(lists['trainval'] + lists['test']) + '\n')


def _write_flowers(root: str, spec: TransferSpec, train: List[int],
                   test: List[int]) -> None:
    """Image numbers are shuffled across the splits (as in the real set),
    the train images split into ``trnid`` and ``valid`` halves."""
    from scipy.io import savemat
    rng = np.random.RandomState([spec.seed, 303, spec.version])
    total = len(train) + len(test)
    numbers = rng.permutation(total) + 1  # image number of the i-th image
    labels = np.zeros(total, np.uint8)
    os.makedirs(os.path.join(root, 'jpg'), exist_ok=True)
    for number, k in zip(numbers, train + test):
        labels[number - 1] = k + 1
        h, w = jpeg_image_size(rng, spec.image_size)
        cv2.imwrite(os.path.join(root, 'jpg', f'image_{number:05d}.jpg'),
                    _transfer_image(rng, k, 102, h, w))
    half = (len(train) + 1) // 2
    ids = [numbers[:half], numbers[half:len(train)], numbers[len(train):]]
    savemat(os.path.join(root, 'imagelabels.mat'),
            dict(labels=labels[None]))
    savemat(os.path.join(root, 'setid.mat'), {
        key: np.asarray(v, np.uint16)[None]
        for key, v in zip(('trnid', 'valid', 'tstid'), ids)})


def generate_transfer_set(root: str, spec: TransferSpec = TransferSpec(),
                          verbose: bool = True) -> str:
    """Write the ``spec.dataset`` set (see above) under ``root`` in that
    dataset's own format, with the labels of :func:`transfer_labels`,
    unless it is already there. Returns ``root``: the ``data_root`` of
    mmpretrain's dataset."""
    if spec.dataset not in TRANSFER_SETS:
        raise ValueError(f'unknown transfer set {spec.dataset!r}; known: '
                         f'{sorted(TRANSFER_SETS)}')
    if spec.dataset == 'flowers102' and spec.train_images < 2:
        raise ValueError('flowers102 needs at least 2 train images (its '
                         'train and val splits)')
    writer = dict(cifar10=_write_cifar, cifar100=_write_cifar,
                  pets=_write_pets, flowers102=_write_flowers)[spec.dataset]

    def write() -> str:
        writer(root, spec, *transfer_labels(spec))
        return (f'{spec.train_images} train and {spec.test_images} test '
                f'images of {spec.dataset}')

    return _write_once(root, spec, f'the synthetic {spec.dataset} set',
                       write, verbose)


def cifar_checksums(root: str, dataset: str) -> Dict:
    """The md5 sums of a generated CIFAR set under ``root``, in the shape of
    mmpretrain's ``CIFAR10``/``CIFAR100`` class attributes (``train_list``,
    ``test_list``, ``meta``), for a reader to check these files instead of
    the release's."""
    import hashlib
    if dataset == 'cifar10':
        folder, meta, key = 'cifar-10-batches-py', 'batches.meta', \
            'label_names'
        train = [f'data_batch_{i}' for i in range(1, 6)]
        test = ['test_batch']
    elif dataset == 'cifar100':
        folder, meta, key = 'cifar-100-python', 'meta', 'fine_label_names'
        train, test = ['train'], ['test']
    else:
        raise ValueError(f'{dataset!r} is not a CIFAR set (cifar10, '
                         'cifar100)')

    def md5(name: str) -> str:
        with open(os.path.join(root, folder, name), 'rb') as f:
            return hashlib.md5(f.read()).hexdigest()

    return dict(train_list=[[n, md5(n)] for n in train],
                test_list=[[n, md5(n)] for n in test],
                meta=dict(filename=meta, key=key, md5=md5(meta)))
