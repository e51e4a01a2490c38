"""DecodeRandomResizedCrop, FastRandomErasing and FastPackInputs against
mmpretrain's transforms (and torchvision's crop algorithm): same crops, same
images, same fill distribution."""
import numpy as np
import pytest
import torch
from PIL import Image

from cvt_backbone.datasets.transforms import jpeg_reduction
from cvt_backbone.datasets.transforms.processing import jpeg_size
from cvt_backbone.testing import photo_like_image

from compare import psnr
from transform_kit import build_transform, write_jpeg

CROP = dict(type='DecodeRandomResizedCrop', scale=224, backend='pillow',
            interpolation='bicubic')


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """Photo-like JPEGs (quality 92): ImageNet-sized ones and large ones."""
    root = tmp_path_factory.mktemp('photos')
    rng = np.random.RandomState(0)
    small = [write_jpeg(root / f's{i}.jpg', photo_like_image(rng, h, w))
             for i, (h, w) in enumerate([(375, 500), (500, 333), (400, 400)])]
    large = [write_jpeg(root / f'l{i}.jpg', photo_like_image(rng, h, w))
             for i, (h, w) in enumerate([(1201, 1597), (1499, 1003)])]
    return small, large


def test_decoding_with_the_crop_matches_mmpretrain(photos):
    """Same seed, same box: the image is LoadImageFromFile +
    RandomResizedCrop's (PIL's bicubic) up to rounding: torch's uint8 kernel
    computes the same filter with other fixed-point weights, so some pixels
    differ by one grey level (a few in a thousand on most crops, up to a
    quarter of them on some enlarged ones), at least 50 dB PSNR."""
    ours = build_transform(CROP)
    load = build_transform(dict(type='LoadImageFromFile'))
    theirs = build_transform(dict(CROP, type='RandomResizedCrop'))
    differing = []
    for i, path in enumerate(photos[0] * 4):
        np.random.seed(i)
        got = ours(dict(img_path=path))
        np.random.seed(i)
        want = theirs(load(dict(img_path=path)))
        assert got['img'].dtype == np.uint8 and got['img'].flags.c_contiguous
        assert got['img'].shape == want['img'].shape == (224, 224, 3)
        assert got['ori_shape'] == want['ori_shape']
        assert tuple(got['img_shape']) == tuple(want['img_shape'][:2])
        diff = np.abs(got['img'].astype(int) - want['img'])
        assert psnr(got['img'], want['img']) >= 50 and diff.max() <= 4
        assert (diff > 1).mean() < 1e-3
        differing.append((diff > 0).mean())
    assert np.median(differing) < 0.01


def _ramp_jpeg(path, h, w):
    """x in blue, y in green (0..255 across the image), quality 100."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    img = np.stack([x, y, np.full((h, w), 128.)], -1).round().astype(np.uint8)
    return write_jpeg(path, img, quality=100)


def _recover_box(out, h, w):
    """The crop box (x0, y0, width, height) in source pixels, from a crop
    of the ramp image: a resampling filter maps the linear ramp to a linear
    ramp, so a line through the inner output pixels gives the box."""
    n = out.shape[0]
    centres = np.arange(2, n - 2) + 0.5
    box = []
    for channel, size, axis in ((0, w, 0), (1, h, 1)):
        profile = out[2:-2, 2:-2, channel].mean(axis) * (size - 1) / 255
        slope, icpt = np.polyfit(centres, profile, 1)
        box += [icpt + 0.5, slope * n]  # pixel edges, not centres
    return box[0], box[2], box[1], box[3]


def test_crop_boxes_follow_torchvisions_algorithm(tmp_path):
    """The boxes this transform crops (read back from a ramp image, through
    the reduced-scale decode most of the time: the output is 16 px) have
    torchvision's RandomResizedCrop distribution: area fraction, aspect
    ratio and position (two-sample KS tests)."""
    from scipy.stats import ks_2samp
    from torchvision.transforms import RandomResizedCrop
    h, w = 381, 509  # not multiples of 8: partial DCT blocks
    path = _ramp_jpeg(tmp_path / 'ramp.jpg', h, w)
    t = build_transform(dict(CROP, scale=16))
    np.random.seed(0)
    torch.manual_seed(0)
    ours, ref, reduced = [], [], 0
    for _ in range(600):
        out = t(dict(img_path=path))['img']
        x0, y0, bw, bh = _recover_box(out, h, w)
        ours.append((bw * bh / (h * w), np.log(bw / bh), (x0 + bw / 2) / w,
                     (y0 + bh / 2) / h))
        reduced += jpeg_reduction((bh, bw), (16, 16)) > 1
        i, j, ch, cw = RandomResizedCrop.get_params(
            torch.empty(3, h, w), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
        ref.append((cw * ch / (h * w), np.log(cw / ch), (j + cw / 2) / w,
                    (i + ch / 2) / h))
    assert reduced > 500  # the reduced-scale path was exercised
    ours, ref = np.array(ours), np.array(ref)
    for k, name in enumerate(['area', 'log aspect', 'centre x',
                              'centre y']):
        assert ks_2samp(ours[:, k], ref[:, k]).pvalue > 1e-3, name
    # and the recovered boxes are boxes of the image
    assert ours[:, 0].min() > 0.06 and ours[:, 0].max() < 1.03


@pytest.mark.parametrize('factor', [2, 4, 8])
def test_reduced_scale_decode_is_close_to_the_full_decode(photos, factor,
                                                          monkeypatch):
    """The same box decoded at 1/factor scale in the DCT domain and resized
    with PIL's sub-pixel box, against the full decode + crop + resize: PSNR
    >= 40 dB. The bound: these quality-92 JPEGs already differ from their
    source by about 37 dB once shrunk to the output, and resizing the full
    decode with PIL's bilinear instead of bicubic filter differs by 45-48 dB;
    a misplaced box (half a reduced pixel) falls to 34-36 dB."""
    import cv2
    flags = []
    imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, 'imdecode',
                        lambda buf, flag: flags.append(flag) or
                        imdecode(buf, flag))
    rng = np.random.RandomState(factor)
    for path in photos[1]:
        h, w = Image.open(path).size[::-1]
        for _ in range(3):
            side = int(224 * factor * rng.uniform(1, 1.5))
            bh, bw = min(side, h), min(int(side * rng.uniform(0.8, 1.2)), w)
            if min(bh, bw) < 224 * factor:
                continue
            box = (rng.randint(h - bh + 1), rng.randint(w - bw + 1), bh, bw)
            assert jpeg_reduction((bh, bw), (224, 224)) == factor
            outs = []
            for reduced in (True, False):
                t = build_transform(dict(CROP, reduced_decode=reduced))
                monkeypatch.setattr(t, 'rand_crop_params', lambda img: box)
                flags.clear()
                outs.append(t(dict(img_path=path))['img'])
                assert flags == [getattr(cv2, f'IMREAD_REDUCED_COLOR_{factor}')
                                 if reduced else cv2.IMREAD_COLOR]
            assert psnr(*outs) >= 40, (path, box)
            assert all(o.flags.writeable and o.flags.c_contiguous
                       for o in outs)  # later transforms write in place


def test_exif_orientation_and_other_formats(tmp_path):
    """As LoadImageFromFile: cv2 applies the EXIF orientation (the header
    size is turned accordingly, also for the reduced decode), PNGs decode in
    full; a missing or broken file is skipped (None) by default and raises
    an error naming it with skip_unreadable=False (the bad-image cases
    themselves: tests/test_datasets/test_bad_images.py)."""
    rng = np.random.RandomState(1)
    img = photo_like_image(rng, 600, 1000)
    rotated = write_jpeg(tmp_path / 'rot.jpg', img, orientation=6)
    load = build_transform(dict(type='LoadImageFromFile'))
    assert load(dict(img_path=rotated))['img'].shape[:2] == (1000, 600)
    with open(rotated, 'rb') as f:
        assert jpeg_size(f.read()) == (600, 1000, True)
    for scale in (224, 64):  # full and reduced decode
        out = build_transform(dict(CROP, scale=scale))(dict(img_path=rotated))
        assert out['ori_shape'] == (1000, 600)
        assert out['img'].shape == (scale, scale, 3)
    png = str(tmp_path / 'a.png')
    Image.fromarray(img[:300, :400]).save(png)
    out = build_transform(CROP)(dict(img_path=png))
    assert out['ori_shape'] == (300, 400) and out['img'].shape == (224, 224,
                                                                    3)
    missing = dict(img_path=str(tmp_path / 'missing.jpg'))
    strict = dict(CROP, skip_unreadable=False)
    with pytest.raises(ValueError, match='missing.jpg: no such file'):
        build_transform(strict)(missing)
    assert build_transform(CROP)(missing) is None
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
    with pytest.raises(ValueError, match="bad.jpg: truncated JPEG"):
        build_transform(strict)(dict(img_path=str(bad)))


def test_jpeg_reduction_is_the_shrink_factor():
    assert jpeg_reduction((447, 900), (224, 224)) == 1
    assert jpeg_reduction((448, 900), (224, 224)) == 2
    assert jpeg_reduction((900, 1000), (224, 224)) == 4
    assert jpeg_reduction((4000, 4000), (224, 224)) == 8
    assert jpeg_reduction((100, 100), (224, 224)) == 1


def test_random_erasing_fill_has_mmpretrains_distribution():
    """Same box (mmpretrain's draw), and the per-pixel fill is
    mmpretrain's N(mean, std) truncated to an integer and clipped:
    per-channel mean, std and share of clipped values agree."""
    cfg = dict(type='RandomErasing', erase_prob=1., mode='rand',
               min_area_ratio=0.3, max_area_ratio=0.3,
               fill_color=[103.53, 116.28, 123.675],
               fill_std=[57.375, 57.12, 58.395])
    ours = build_transform(dict(cfg, type='FastRandomErasing'))
    theirs = build_transform(cfg)
    base = np.zeros((224, 224, 3), np.uint8)
    fills = {}
    for name, t in (('ours', ours), ('theirs', theirs)):
        np.random.seed(0)
        out = [t(dict(img=base.copy()))['img'] for _ in range(20)]
        masks = [o.any(2) for o in out]
        fills[name] = np.concatenate([o[m] for o, m in zip(out, masks)])
        fills[name + '_box'] = np.argwhere(masks[0]).min(0)
    assert (fills['ours_box'] == fills['theirs_box']).all()
    a, b = fills['ours'].astype(float), fills['theirs'].astype(float)
    assert np.abs(a.mean(0) - b.mean(0)).max() < 0.5
    assert np.abs(a.std(0) / b.std(0) - 1).max() < 0.01
    assert abs((a == 0).mean() - (b == 0).mean()) < 0.003
    assert abs((a == 255).mean() - (b == 255).mean()) < 0.003


@pytest.mark.parametrize('flipped', [False, True])
def test_pack_inputs_gives_mmpretrains_result(flipped):
    img = np.random.RandomState(0).randint(0, 256, (20, 30, 3), np.uint8)
    if flipped:
        img = img[:, ::-1]
    results = dict(img=img, gt_label=3, img_path='x.jpg', ori_shape=(40, 60),
                   img_shape=(20, 30))
    got = build_transform(dict(type='FastPackInputs'))(dict(results))
    want = build_transform(dict(type='PackInputs'))(dict(results))
    assert got['inputs'].is_contiguous() and got['inputs'].shape == (3, 20,
                                                                      30)
    assert torch.equal(got['inputs'], want['inputs'])
    assert got['data_samples'].gt_label.tolist() == [3]
    assert got['data_samples'].metainfo == want['data_samples'].metainfo
