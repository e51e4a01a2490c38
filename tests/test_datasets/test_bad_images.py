"""Unreadable images are skipped and reported by path (both loading
transforms), readable oddities still become 3-channel images, the limit
stops a worker, and validation leaves a bad image out instead of failing.
The expected images are PIL's decodes of the same files (an independent
decoder), not this project's."""
import io
import struct
import zlib

import numpy as np
import pytest
from mmengine.registry import TRANSFORMS
from PIL import Image

from cvt_backbone.datasets import (
    SkipUnreadable,
    TooManyBadImagesError,
    UnreadableImageError,
    collate_readable,
)

from log_capture import captured_log

CROP = dict(type='DecodeRandomResizedCrop', scale=32, backend='pillow',
            interpolation='bicubic')
LOAD = dict(type='LoadImageOrSkip')


def photo(h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    img = np.stack([x * 4, y * 5, (x + y) * 2], -1) % 256
    return (img + rng.integers(0, 20, img.shape)).clip(0, 255).astype(
        np.uint8)


def encoded(img, fmt, **kw) -> bytes:
    b = io.BytesIO()
    Image.fromarray(img).save(b, fmt, **kw)
    return b.getvalue()


def png_with_height(data: bytes, height: int) -> bytes:
    """The PNG with its IHDR height changed (and its CRC fixed): a header
    that disagrees with the pixel data."""
    ihdr = bytearray(data[8 + 8:8 + 8 + 13])
    ihdr[4:8] = struct.pack('>I', height)
    crc = struct.pack('>I', zlib.crc32(b'IHDR' + bytes(ihdr)))
    return data[:16] + bytes(ihdr) + crc + data[33:]


def bad_files(tmp_path):
    """name -> (path, the reason's words) for every kind of unreadable
    file the issue names."""
    jpeg = encoded(photo(), 'JPEG', quality=90)
    png = encoded(photo(), 'PNG')
    files = {
        'empty': (b'', 'empty file'),
        'truncated': (jpeg[:len(jpeg) * 2 // 3], 'truncated JPEG'),
        'text': (b'this is not an image\n' * 20, 'not an image'),
        'header': (png_with_height(png, 96), 'PNG file OpenCV cannot'),
        'unsupported': (encoded(photo(16, 16), 'ICO'), 'ICO file OpenCV'),
    }
    out = {}
    for name, (data, why) in files.items():
        path = tmp_path / f'{name}.JPEG'
        path.write_bytes(data)
        out[name] = (str(path), why)
    out['missing'] = (str(tmp_path / 'missing.JPEG'), 'no such file')
    return out


@pytest.mark.parametrize('cfg', [LOAD, CROP, dict(CROP, scale=8)],
                         ids=['load', 'crop-full', 'crop-reduced'])
def test_each_unreadable_file_is_skipped_and_named(tmp_path, cfg):
    t = TRANSFORMS.build(dict(cfg, bad_image_dir=str(tmp_path / 'log')))
    for name, (path, why) in bad_files(tmp_path).items():
        with captured_log() as log:
            assert t(dict(img_path=path)) is None, name
        text = '\n'.join(log)
        assert f'skipped an unreadable train image: {path}: ' in text, name
        assert why in text, (name, text)
        strict = TRANSFORMS.build(dict(cfg, skip_unreadable=False))
        with pytest.raises(UnreadableImageError, match=why) as e:
            strict(dict(img_path=path))
        assert e.value.path == path
    lines = [line for f in (tmp_path / 'log').iterdir()
             for line in f.read_text().splitlines()]
    assert sorted(p.split('\t')[0] for p in lines) == sorted(
        p for p, _ in bad_files(tmp_path).values())


def oddities(tmp_path):
    """name -> (path, PIL's RGB decode, EXIF orientation applied)."""
    img = photo()
    out = {}

    def put(name, data):
        path = tmp_path / f'{name}.JPEG'
        path.write_bytes(data)
        with Image.open(path) as im:
            from PIL import ImageOps
            im = ImageOps.exif_transpose(im)
            if im.mode == 'I;16':
                ref = np.asarray(im, np.uint16) >> 8
                ref = np.repeat(ref[..., None].astype(np.uint8), 3, -1)
            else:
                ref = np.asarray(im.convert('RGB'))
        out[name] = (str(path), ref)

    put('cmyk', _cmyk_jpeg(img))
    put('gray', encoded(img[..., 0], 'PNG'))
    put('png16', encoded_16bit(img[..., 1]))
    put('rgba', encoded(np.dstack([img, np.full(img.shape[:2], 200,
                                                 np.uint8)]), 'PNG'))
    put('png_named_jpeg', encoded(img, 'PNG'))
    exif = Image.Exif()
    exif[0x0112] = 6
    put('exif_rotated', encoded(img, 'JPEG', quality=95,
                                exif=exif.tobytes()))
    return out


def _cmyk_jpeg(img):
    b = io.BytesIO()
    Image.fromarray(img).convert('CMYK').save(b, 'JPEG', quality=95)
    return b.getvalue()


def encoded_16bit(channel):
    b = io.BytesIO()
    Image.fromarray(channel.astype(np.uint16) * 257).save(b, 'PNG')
    return b.getvalue()


def test_readable_oddities_become_three_channel_images(tmp_path):
    load = TRANSFORMS.build(LOAD)
    crop = TRANSFORMS.build(dict(CROP, scale=16))
    for name, (path, ref) in oddities(tmp_path).items():
        out = load(dict(img_path=path))
        assert out is not None, name
        img = out['img']
        assert img.dtype == np.uint8 and img.shape == ref.shape, (
            name, img.shape, ref.shape)
        # BGR from OpenCV against PIL's RGB; JPEG decoders differ a little
        err = np.abs(img[..., ::-1].astype(int) - ref.astype(int)).mean()
        assert err < 3, (name, err)
        cropped = crop(dict(img_path=path))
        assert cropped['img'].shape == (16, 16, 3), name
        assert cropped['ori_shape'] == ref.shape[:2], name


def test_the_limit_stops_a_worker_that_reads_nothing_good(tmp_path):
    """A wrong data root: every file missing; more than min_count skipped
    and more than max_fraction of the reads -> stop, with the count and
    the first paths."""
    t = TRANSFORMS.build(dict(LOAD, max_fraction=0.5, min_count=3))
    with pytest.raises(TooManyBadImagesError) as e:
        for i in range(10):
            t(dict(img_path=str(tmp_path / f'nowhere/{i}.JPEG')))
    msg = str(e.value)
    assert i == 3  # the 4th skip passes min_count=3
    assert '4 of the 4 train images' in msg
    assert str(tmp_path / 'nowhere/0.JPEG') in msg and 'data_root' in msg
    # below the fraction it goes on
    good = tmp_path / 'good.png'
    good.write_bytes(encoded(photo(), 'PNG'))
    t = TRANSFORMS.build(dict(LOAD, max_fraction=0.5, min_count=3))
    for i in range(30):
        path = tmp_path / 'x.JPEG' if i % 3 == 0 else good
        t(dict(img_path=str(path)))


def test_validation_leaves_the_bad_sample_out(tmp_path):
    """SkipUnreadable over a test-mode dataset (where mmengine's own
    dataset raises on a None sample) gives None for the bad file, and
    collate_readable leaves it out of the batch (None for an empty one)."""
    from mmengine.dataset import BaseDataset
    good = tmp_path / 'good.png'
    good.write_bytes(encoded(photo(), 'PNG'))
    bad = tmp_path / 'bad.JPEG'
    bad.write_bytes(b'')

    class Files(BaseDataset):
        def load_data_list(self):
            return [dict(img_path=str(good)), dict(img_path=str(bad)),
                    dict(img_path=str(good))]

    pipeline = [LOAD]
    raw = Files(pipeline=pipeline, test_mode=True)
    with pytest.raises(Exception, match='should not get `None`'):
        raw[1]
    ds = SkipUnreadable(Files(pipeline=pipeline, test_mode=True))
    assert len(ds) == 3 and ds[1] is None and ds[0] is not None
    batch = collate_readable([ds[i] for i in range(3)])
    assert len(batch['img']) == 2
    assert collate_readable([ds[1]]) is None
