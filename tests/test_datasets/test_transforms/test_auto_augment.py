"""FastRandAugment and its uint8 ops against mmpretrain's ops (same seeds,
same results) and PIL's ImageOps/ImageEnhance (timm's semantics)."""
import numpy as np
import pytest
from mmpretrain.datasets.transforms.auto_augment import (
    RANDAUG_POLICIES,
    merge_hparams,
)
from PIL import Image, ImageEnhance, ImageOps

from cvt_backbone.datasets.transforms import FAST_OPS, fast_policies
from cvt_backbone.testing import photo_like_image

from transform_kit import build_transform

HPARAMS = dict(pad_val=[104, 116, 124], interpolation='bicubic')
RANDAUG = dict(policies='timm_increasing', num_policies=2, total_level=10,
               magnitude_level=9, magnitude_std=0.5, hparams=HPARAMS)
POLICIES = RANDAUG_POLICIES['timm_increasing']


def images():
    """Photo-like 224 crops, a flipped (negative-stride) view, a
    low-contrast image and one with a constant channel (the edge cases of
    auto-contrast and equalize)."""
    rng = np.random.RandomState(0)
    photo = photo_like_image(rng, 224, 224)
    low = (photo // 8 + 100).astype(np.uint8)
    flat = photo.copy()
    flat[..., 1] = 77
    return [photo, photo_like_image(rng, 180, 240)[:, ::-1], low, flat]


def op_config(policy: dict, fast: bool, **kw) -> dict:
    p = dict(policy, type=FAST_OPS[policy['type']] if fast else
             policy['type'])
    p = merge_hparams(p, HPARAMS)
    if 'magnitude_range' in p:
        p.update(magnitude_level=9, magnitude_std=0.5, total_level=10)
    return dict(p, prob=1., **kw)


@pytest.mark.parametrize('policy', POLICIES,
                         ids=[p['type'] + p.get('direction', '')[:1]
                              for p in POLICIES])
def test_each_op_gives_mmpretrains_result(policy):
    """Same seed: same magnitude, sign and output as mmpretrain's op, on
    uint8; exact, except the bicubic translation (one 1-D filter instead of
    warpAffine's 2-D one: a grey level on a few pixels in 10,000)."""
    ours = build_transform(op_config(policy, True))
    theirs = build_transform(op_config(policy, False))
    for i, img in enumerate(images() * 3):
        np.random.seed(i)
        got = ours(dict(img=img.copy()))['img']
        state = np.random.get_state()[1].copy()
        np.random.seed(i)
        want = theirs(dict(img=img.copy()))['img']
        # the same random draws, in the same order
        assert (np.random.get_state()[1] == state).all()
        assert got.dtype == np.uint8 and got.shape == img.shape
        if policy['type'] == 'Translate':
            diff = np.abs(got.astype(int) - want)
            assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
        else:
            assert np.array_equal(got, want), i


def _pil(img, fn):
    """``fn`` applied by PIL to a BGR image, back in BGR."""
    return np.asarray(fn(Image.fromarray(img[..., ::-1].copy())))[..., ::-1]


@pytest.mark.parametrize('name,kw,pil_fn,tol', [
    ('AutoContrast', {}, ImageOps.autocontrast, 0),
    ('Equalize', {}, ImageOps.equalize, 0),
    ('Invert', {}, ImageOps.invert, 0),
    ('Posterize', dict(bits=3), lambda im: ImageOps.posterize(im, 3), 0),
    ('Solarize', dict(thr=100), lambda im: ImageOps.solarize(im, 100), 0),
    ('Brightness', dict(magnitude=0.6, random_negative_prob=0),
     lambda im: ImageEnhance.Brightness(im).enhance(1.6), 1),
    ('Contrast', dict(magnitude=0.6, random_negative_prob=0),
     lambda im: ImageEnhance.Contrast(im).enhance(1.6), 1),
    ('ColorTransform', dict(magnitude=0.6, random_negative_prob=0),
     lambda im: ImageEnhance.Color(im).enhance(1.6), 2),
])
def test_ops_follow_pil(name, kw, pil_fn, tol):
    """timm runs these ops with PIL; ours agree with PIL's ImageOps and
    ImageEnhance (the enhancers blend in float: a grey level apart at most,
    colour through OpenCV's grey weights)."""
    op = build_transform(dict(type=FAST_OPS[name], prob=1., **kw))
    for img in images()[:3]:
        got = op(dict(img=img.copy()))['img']
        want = _pil(img, pil_fn)
        assert np.abs(got.astype(int) - want).max() <= tol, name


def test_rand_augment_is_mmpretrains_with_the_fast_ops():
    """The same two ops per image, the same magnitudes and the same images
    as mmpretrain's RandAugment for the same seed."""
    ours = build_transform(dict(type='FastRandAugment', **RANDAUG))
    theirs = build_transform(dict(type='RandAugment', **RANDAUG))
    assert [type(t).__name__ for t in ours.transforms] == [
        'Fast' + type(t).__name__ for t in theirs.transforms]
    assert ours.policies == [dict(p, type='Fast' + p['type'])
                             for p in theirs.policies]
    imgs = images()
    for i in range(60):
        img = imgs[i % len(imgs)]
        np.random.seed(i)
        got = ours(dict(img=img.copy()))['img']
        np.random.seed(i)
        want = theirs(dict(img=img.copy()))['img']
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, i


def test_fast_policies():
    fast = fast_policies('timm_increasing')
    assert [p['type'] for p in fast] == [FAST_OPS[p['type']]
                                         for p in POLICIES]
    assert fast_policies([dict(type='Cutout', shape=8)]) == [
        dict(type='Cutout', shape=8)]  # no fast version: kept
    with pytest.raises(ValueError, match='timm_increasing'):
        fast_policies('timm_decreasing')
