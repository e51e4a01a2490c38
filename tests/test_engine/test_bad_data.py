"""Runs over data with unreadable files: build_config's rewriting of every
loader, and (slow) training, testing and a detector's test-mode validation
that skip, report and count them; a wrong data root stops the run."""
import io
import json
import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from cvt_backbone.engine import build_config

from tiny_configs import config_path, tiny_cls_config
from tool_runner import run_tool


def jpeg_bytes():
    rng = np.random.default_rng(0)
    b = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(
        b, 'JPEG')
    return b.getvalue()


BREAKERS = (b'', jpeg_bytes()[:300], b'not an image at all\n' * 10)


def broken_copy(src, dst, train: int, val: int):
    """A copy of the generated set with ``train`` and ``val`` of its files
    overwritten by an empty file, a truncated JPEG and a text file (in
    turn); the broken paths, by split."""
    shutil.copytree(src, dst)
    broken = {}
    for split, n in (('train', train), ('val', val)):
        lines = (dst / 'meta' / f'{split}.txt').read_text().splitlines()
        paths = [str(dst / split / line.split()[0]) for line in lines[:n]]
        for i, path in enumerate(paths):
            with open(path, 'wb') as f:
                f.write(BREAKERS[i % len(BREAKERS)])
        broken[split] = paths
    return broken


def test_every_loader_of_every_kind_of_config_is_rewritten(tmp_path):
    """mmpretrain's, mmseg's and mmdet's configs: LoadImageFromFile ->
    LoadImageOrSkip with the limit and the phase, DecodeRandomResizedCrop
    gets them too, validation/test wrapped to leave bad images out, the
    hook added; bad_images=None makes an unreadable image an error; an
    unknown key is refused."""
    for name in ('cvt13_classify.py', 'upernet_cvt13_512x512_160k_ade20k.py',
                 'mask-rcnn_cvt13_fpn_1x_coco.py'):
        cfg = build_config(config_path(name), work_dir=str(tmp_path))
        for key, phase in (('train_dataloader', 'train'),
                           ('val_dataloader', 'val'),
                           ('test_dataloader', 'test')):
            loader = cfg[key]
            dataset = loader.dataset
            if phase != 'train':
                assert dataset.type == 'SkipUnreadable', (name, key)
                assert loader.collate_fn.type == 'collate_readable'
                dataset = dataset.dataset
            steps = [t for t in dataset.pipeline
                     if t['type'] in ('LoadImageOrSkip',
                                      'DecodeRandomResizedCrop')]
            assert steps, (name, key)
            assert not any(t['type'] == 'LoadImageFromFile'
                           for t in dataset.pipeline)
            for t in steps:
                assert t['phase'] == phase and t['max_fraction'] == 0.01
                assert t['bad_image_dir'] == str(tmp_path / 'bad_images')
        assert cfg.val_cfg.type == 'SkippingValLoop', name
        assert cfg.test_cfg.type == 'SkippingTestLoop', name
        assert any(h['type'] == 'BadImageHook' for h in cfg.custom_hooks)
    off = tmp_path / 'off.py'
    off.write_text(f'_base_ = [{config_path("cvt13_classify.py")!r}]\n'
                   'bad_images = None\n')
    cfg = build_config(str(off), work_dir=str(tmp_path))
    assert all(t.get('skip_unreadable') is False
               for t in cfg.val_dataloader.dataset.pipeline
               if t['type'] == 'LoadImageFromFile')
    bad = tmp_path / 'bad.py'
    bad.write_text(f'_base_ = [{config_path("cvt13_classify.py")!r}]\n'
                   'bad_images = dict(max_fraction=0.1, limit=3)\n')
    with pytest.raises(ValueError, match="takes max_fraction and min_count"):
        build_config(str(bad), work_dir=str(tmp_path))


@pytest.mark.slow
def test_training_and_testing_skip_and_report_bad_files(tmp_path,
                                                        tiny_cls_data):
    from pathlib import Path
    root = tmp_path / 'data'
    broken = broken_copy(Path(tiny_cls_data), root, train=3, val=2)
    cfg = tiny_cls_config(tmp_path / 'cfg.py', str(root), max_epochs=2)
    work = tmp_path / 'work'
    res = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                    str(work)], timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    for path in broken['train'] + broken['val']:
        assert path in log, path
    assert 'empty file' in log and 'truncated JPEG' in log
    assert 'not an image' in log
    summary = json.loads((work / 'summary.json').read_text())
    bad = summary['bad_images']
    assert [r['epoch'] for r in bad['train']] == [1, 2]
    assert all(r['skipped'] == 3 and r['samples'] == 144
               for r in bad['train']), bad['train']
    assert all(r['skipped'] == 2 for r in bad['val']), bad['val']
    assert sorted(f.split(' (')[0] for f in bad['val'][0]['first']) == \
        sorted(broken['val'])
    assert 'epoch 1: 3 unreadable train image(s) of 144 skipped' in log
    # tools/test.py over the same val set: reported, left out, no failure
    res = run_tool([sys.executable, 'tools/test.py', cfg,
                    summary['checkpoint'], '--work-dir', str(tmp_path / 't')],
                   timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'test: 2 unreadable test image(s) of 60 skipped (left out of ' \
        'the metrics)' in res.stdout + res.stderr


@pytest.mark.slow
def test_a_wrong_data_root_stops_the_run_saying_so(tmp_path, tiny_cls_data):
    """The lists point at files that are not there: the run stops with
    the count, the limit and the first paths, not after 1000 refetches
    per sample with mmengine's 'Cannot find valid image'."""
    root = tmp_path / 'empty'
    (root / 'meta').mkdir(parents=True)
    shutil.copy(f'{tiny_cls_data}/meta/train.txt', root / 'meta')
    shutil.copy(f'{tiny_cls_data}/meta/val.txt', root / 'meta')
    cfg = tiny_cls_config(tmp_path / 'cfg.py', str(root), max_epochs=2)
    res = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                    str(tmp_path / 'work')], timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode != 0
    assert 'TooManyBadImagesError' in log, log[-3000:]
    assert 'could not be decoded, more than the limit' in log
    assert 'max_fraction=0.01, min_count=50' in log
    assert re.search(re.escape(f'{root}/train/') + r'\w+/\w+_\d+\.png '
                     r'\(no such file\)', log)
    assert '51 of the 51 train images this data worker read' in log
    assert 'Cannot find valid image' not in log


@pytest.mark.slow
def test_detector_validation_in_test_mode_leaves_the_bad_image_out(
        tmp_path):
    """mmdet's validation set is in test mode, where mmengine raises on a
    None sample: here the broken image is left out, reported and the COCO
    metric still runs."""
    from test_configs.test_dense import TINY, train_demo

    from cvt_backbone.testing import DenseSpec, generate_detection
    root = generate_detection(
        str(tmp_path / 'coco'),
        DenseSpec(image_size=64, train_images=8, val_images=4,
                  min_radius=8, max_radius=16), verbose=False)
    val_dir = tmp_path / 'coco' / 'val'
    victim = sorted(val_dir.iterdir())[0]
    victim.write_bytes(b'')
    runner = train_demo('det', root, str(tmp_path / 'work'), {
        'model.neck.in_channels': TINY['embed_dims'],
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 4,
        'default_hooks.checkpoint.interval': 1})
    report = runner.message_hub.get_info('bad_images')
    assert report['val'][0]['skipped'] == 1
    assert report['val'][0]['first'] == [f'{victim} (empty file)']
    bbox = runner.message_hub.get_scalar('val/coco/bbox_mAP').current()
    assert 0 <= bbox <= 1
