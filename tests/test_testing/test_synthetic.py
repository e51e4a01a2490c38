"""The synthetic sets: COCO instance set and ADE-style semantic set written
from the same deterministic scenes, the ImageNet-sized JPEG set, and the
transfer sets in CIFAR's, Pets' and Flowers-102's own formats (read back
by mmpretrain's dataset classes)."""
import json
import os
import re

import cv2
import numpy as np
import pytest

from cvt_backbone.testing.synthetic import (
    CLASSES,
    SEG_CLASSES,
    TRANSFER_SETS,
    DenseSpec,
    JpegSpec,
    SyntheticSpec,
    TransferSpec,
    cifar_checksums,
    dense_scene,
    generate_classification,
    generate_detection,
    generate_jpeg_classification,
    generate_segmentation,
    generate_transfer_set,
    transfer_labels,
)

SPEC = DenseSpec(image_size=64, train_images=6, val_images=3,
                 min_radius=6, max_radius=14, min_area=10)


@pytest.fixture(scope='module')
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp('dense')
    det = generate_detection(str(root / 'coco'), SPEC, verbose=False)
    seg = generate_segmentation(str(root / 'ade'), SPEC, verbose=False)
    return det, seg


def test_scenes_are_deterministic_and_split_dependent():
    a_img, a_obj = dense_scene(SPEC, 0, 3)
    b_img, b_obj = dense_scene(SPEC, 0, 3)
    assert np.array_equal(a_img, b_img)
    assert [o['label'] for o in a_obj] == [o['label'] for o in b_obj]
    assert not np.array_equal(a_img, dense_scene(SPEC, 1, 3)[0])
    assert not np.array_equal(a_img, dense_scene(SPEC, 0, 4)[0])


def _hue_offsets(spec, n_scenes=6):
    """Per object: how far (degrees) its pixels' hue lies from the centre of
    its class's hue band (class k centred at k * 360 / n_classes)."""
    offsets = []
    for index in range(n_scenes):
        img, objects = dense_scene(spec, 0, index)
        hue = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)[..., 0] * (360 / 256)
        for obj in objects:
            centre = obj['label'] * 360 / len(CLASSES)
            d = np.abs((hue[obj['mask'].astype(bool)] - centre + 180) % 360
                       - 180)
            offsets.append(d.max())
    return np.array(offsets)


def test_objects_take_their_class_hue_as_in_the_classification_set():
    # band half-width 15 degrees, plus uint8 HSV rounding
    assert (_hue_offsets(SPEC) <= 15 + 3).all()
    random = _hue_offsets(DenseSpec(**dict(vars(SPEC), class_hues=False)))
    assert (random > 18).any()


def test_coco_set_is_valid_and_matches_the_scenes(sets):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    det, _ = sets
    for split, count, offset in (('train', 6, 0), ('val', 3, 1)):
        path = os.path.join(det, 'annotations', f'instances_{split}.json')
        coco = COCO(path)
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
            list(CLASSES)
        assert len(coco.getImgIds()) == count
        for img_id in coco.getImgIds():
            info = coco.loadImgs(img_id)[0]
            img = cv2.imread(os.path.join(det, split, info['file_name']))
            scene, objects = dense_scene(SPEC, offset, img_id - 1)
            assert np.array_equal(img, scene)  # lossless PNG, same scene
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            assert len(anns) == len(objects)
            for ann, obj in zip(anns, objects):
                assert ann['category_id'] == obj['label'] + 1
                mask = coco.annToMask(ann)
                assert np.array_equal(mask, obj['mask'])
                assert ann['area'] == mask.sum() >= SPEC.min_area
                ys, xs = np.nonzero(mask)
                assert ann['bbox'] == [xs.min(), ys.min(),
                                       xs.max() - xs.min() + 1,
                                       ys.max() - ys.min() + 1]
                assert ann['iscrowd'] == 0
                assert mask_utils.area(ann['segmentation']) == ann['area']


def test_ade_set_matches_the_coco_set(sets):
    from pycocotools.coco import COCO
    det, seg = sets
    assert open(os.path.join(seg, 'classes.txt')).read().split() == \
        list(SEG_CLASSES)
    coco = COCO(os.path.join(det, 'annotations', 'instances_val.json'))
    for img_id in coco.getImgIds():
        name = coco.loadImgs(img_id)[0]['file_name']
        img = cv2.imread(os.path.join(seg, 'images', 'validation', name))
        assert np.array_equal(
            img, cv2.imread(os.path.join(det, 'val', name)))
        label = cv2.imread(os.path.join(seg, 'annotations', 'validation',
                                        name), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == (64, 64)
        want = np.zeros((64, 64), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
            want[coco.annToMask(ann).astype(bool)] = ann['category_id']
        assert np.array_equal(label, want)
    n_train = len(os.listdir(os.path.join(seg, 'annotations', 'training')))
    assert n_train == 6


def test_generation_is_idempotent_and_spec_sensitive(sets, tmp_path):
    det, _ = sets
    path = os.path.join(det, 'annotations', 'instances_val.json')
    mtime = os.path.getmtime(path)
    generate_detection(det, SPEC, verbose=False)
    assert os.path.getmtime(path) == mtime
    other = DenseSpec(**dict(vars(SPEC), seed=1))
    generate_detection(det, other, verbose=False)
    assert json.load(open(os.path.join(det, 'spec.json')))['seed'] == 1


def test_classification_generator_unchanged(tmp_path):
    spec = SyntheticSpec(image_size=32, train_per_class=1, val_per_class=1)
    root = generate_classification(str(tmp_path), spec, verbose=False)
    assert sorted(os.listdir(os.path.join(root, 'train'))) == sorted(CLASSES)


def test_jpeg_set_is_imagenet_sized_and_deterministic(tmp_path):
    """500 px long side, several aspect ratios, quality-92 JPEGs of about a
    photo's size per pixel, class folders with meta lists; the same spec
    writes the same files."""
    from PIL import Image
    spec = JpegSpec(train_per_class=3, val_per_class=1)
    root = generate_jpeg_classification(str(tmp_path / 'a'), spec,
                                        verbose=False)
    lines = open(os.path.join(root, 'meta', 'train.txt')).read().split()
    assert len(lines) == 2 * 3 * len(CLASSES)
    sizes, shapes = [], set()
    for rel in lines[::2]:
        path = os.path.join(root, 'train', rel)
        with Image.open(path) as im:
            assert im.format == 'JPEG' and max(im.size) == 500
            shapes.add(im.size)
            # PIL's estimate of the encoder's quality from its tables
            q = im.quantization[0]
        sizes.append(os.path.getsize(path) / (im.size[0] * im.size[1]))
        assert q[0] <= 4  # quality 92's luminance DC step is 3
    assert len(shapes) >= 3
    # bits per pixel: a textured photo's range at quality 92 (a smooth
    # synthetic image would take well under 1)
    assert 1.5 < 8 * np.mean(sizes) < 6
    again = generate_jpeg_classification(str(tmp_path / 'b'), spec,
                                         verbose=False)
    name = os.path.join('train', lines[0])
    assert open(os.path.join(root, name), 'rb').read() == open(
        os.path.join(again, name), 'rb').read()


@pytest.mark.parametrize('generate,spec,written', [
    (generate_classification,
     SyntheticSpec(image_size=16, train_per_class=1, val_per_class=1),
     '12 images of 6 classes'),
    (generate_detection, SPEC, None),  # 'N images with M objects'
    (generate_segmentation, SPEC, '9 images and label maps'),
    (generate_jpeg_classification,
     JpegSpec(train_per_class=1, val_per_class=1, long_side=64),
     '12 JPEGs'),
    (generate_transfer_set,
     TransferSpec(dataset='pets', train_images=2, test_images=1),
     '2 train and 1 test images of pets'),
])
def test_generators_report_through_mmengine_logger(tmp_path, generate, spec,
                                                   written):
    """What a user sees (``make demo``, tools/misc/make_synthetic_data.py)
    comes through mmengine's logger: what is generated where, then what was
    written; a finished set is left alone without a word, and
    ``verbose=False`` is silent."""
    from log_capture import captured_log
    root = str(tmp_path / 'set')
    with captured_log() as lines:
        generate(root, spec)
    assert len(lines) == 2, lines
    assert lines[0].startswith('generating ')
    assert lines[0].endswith(f' in {root} ...')
    assert lines[1].startswith('wrote ') and lines[1].endswith(f' to {root}')
    if written is None:
        assert re.fullmatch(r'wrote 9 images with \d+ objects to .*', lines[1])
    else:
        assert lines[1] == f'wrote {written} to {root}'
    with captured_log() as again:
        generate(root, spec)
        generate(str(tmp_path / 'quiet'), spec, verbose=False)
    assert again == []
    assert os.path.isfile(os.path.join(str(tmp_path / 'quiet'), 'spec.json'))


# mmpretrain's class and its (train, test) splits for each transfer set
MMPRETRAIN_SETS = dict(cifar10=('CIFAR10', 'train', 'test'),
                       cifar100=('CIFAR100', 'train', 'test'),
                       pets=('OxfordIIITPet', 'trainval', 'test'),
                       flowers102=('Flowers102', 'trainval', 'test'))


@pytest.mark.parametrize('dataset', list(TRANSFER_SETS))
def test_transfer_sets_are_read_back_by_mmpretrain(dataset, tmp_path,
                                                    monkeypatch):
    """mmpretrain 1.2.0's own dataset class reads each generated set: the
    split sizes and every label as written (CIFAR-100's fine labels, the
    1-based class ids of Pets and Flowers, Flowers' image numbers through
    setid.mat), images that decode at their size. The CIFAR sets pass
    mmpretrain's integrity check once it has the generated files' md5 sums
    (it refuses them against the release's)."""
    import mmpretrain.datasets as datasets
    spec = TransferSpec(dataset=dataset, train_images=13, test_images=7)
    root = generate_transfer_set(str(tmp_path / dataset), spec,
                                 verbose=False)
    kind, train_split, test_split = MMPRETRAIN_SETS[dataset]
    cls = getattr(datasets, kind)
    extra = {}
    if dataset.startswith('cifar'):
        extra = dict(download=False)
        with pytest.raises(RuntimeError, match='Cannot find'):
            cls(data_root=root, split='train', **extra)
        for key, value in cifar_checksums(root, dataset).items():
            monkeypatch.setattr(cls, key, value)
    want = transfer_labels(spec)
    # every class before any repeats: 10 of CIFAR-10, 20 of the others
    assert len(set(want[0] + want[1])) == min(20, TRANSFER_SETS[dataset])
    for split, labels in zip((train_split, test_split), want):
        ds = cls(data_root=root, split=split, **extra)
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        assert [i['gt_label'] for i in infos] == labels
        if dataset.startswith('cifar'):
            assert len(ds.CLASSES) == TRANSFER_SETS[dataset]
            img = infos[0]['img']
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        else:
            img = cv2.imread(infos[0]['img_path'])
            assert max(img.shape[:2]) == spec.image_size
        assert img.std() > 10  # a drawn scene, not a blank


def test_make_synthetic_data_writes_a_transfer_set(tmp_path):
    """The command line writes a transfer set in its format."""
    from tool_runner import load_tool
    tool = load_tool('misc/make_synthetic_data.py')
    root = tmp_path / 'flowers'
    tool.main([str(root), '--format', 'flowers102', '--train', '4',
               '--val', '2', '--size', '40'])
    assert sorted(os.listdir(root / 'jpg')) == [
        f'image_{i:05d}.jpg' for i in range(1, 7)]
    assert (root / 'imagelabels.mat').is_file()
    assert (root / 'setid.mat').is_file()
