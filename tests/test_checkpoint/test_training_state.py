"""Training checkpoints: the fault of a cut or damaged file is found without
unpickling it, a failed write leaves the previous file, and the resume
candidates come newest first."""
import os
import time

import pytest
import torch

from cvt_backbone.checkpoint import CheckpointError
from cvt_backbone.checkpoint.training_state import (
    checkpoint_problem,
    resume_candidates,
    stale_temp_files,
    temp_name,
    write_atomically,
)


def saved(path, seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.save({'state_dict': {'w': torch.randn(256, 64, generator=g)},
                'meta': {'epoch': seed}}, path)
    return str(path)


def test_cut_empty_missing_and_damaged_files_are_named(tmp_path):
    good = saved(tmp_path / 'epoch_1.pth')
    assert checkpoint_problem(good) is None
    data = open(good, 'rb').read()

    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    assert 'cut short' in checkpoint_problem(str(cut))
    # torch.load itself fails on it (how depends on where it was cut), as
    # --resume did
    with pytest.raises((RuntimeError, OSError)):
        torch.load(str(cut), weights_only=True)

    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    assert 'empty' in checkpoint_problem(str(empty))
    assert checkpoint_problem(str(tmp_path / 'none.pth')) == 'no such file'

    # one flipped byte inside the tensor's record: its CRC no longer fits
    damaged = bytearray(data)
    at = data.index(b'data/0') + 200
    damaged[at] ^= 0xFF
    (tmp_path / 'damaged.pth').write_bytes(bytes(damaged))
    assert 'CRC' in checkpoint_problem(str(tmp_path / 'damaged.pth'))

    text = tmp_path / 'text.pth'
    text.write_text('not a checkpoint\n')
    assert 'unreadable' in checkpoint_problem(str(text))


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = str(tmp_path / 'epoch_2.pth')
    saved(path, seed=1)
    before = open(path, 'rb').read()
    with pytest.raises(KeyError):
        with write_atomically(path) as tmp:
            assert tmp == temp_name(path)
            with open(tmp, 'wb') as f:
                f.write(b'PK\x03\x04 half a file')
            raise KeyError('killed mid-save')
    assert open(path, 'rb').read() == before
    assert stale_temp_files(str(tmp_path)) == []
    # a full disk (an OSError) is reported with the checkpoint's name
    with pytest.raises(CheckpointError, match='epoch_2.pth.*untouched'):
        with write_atomically(path) as tmp:
            raise OSError(28, 'No space left on device')
    # success replaces the file, nothing left beside it
    with write_atomically(path) as tmp:
        saved(tmp, seed=2)
    assert torch.load(path, weights_only=True)['meta']['epoch'] == 2
    assert os.listdir(tmp_path) == ['epoch_2.pth']


def test_resume_candidates_newest_first_last_checkpoint_at_the_head(
        tmp_path):
    paths = []
    for i in (1, 2, 3):
        paths.append(saved(tmp_path / f'epoch_{i}.pth', seed=i))
        t = time.time() - 100 + i
        os.utime(paths[-1], (t, t))
    saved(tmp_path / 'best_accuracy_top1_epoch_3.pth')  # no optimizer
    (tmp_path / '.epoch_4.pth.tmp-123').write_bytes(b'PK')
    assert resume_candidates(str(tmp_path)) == paths[::-1]
    (tmp_path / 'last_checkpoint').write_text(paths[1])
    assert resume_candidates(str(tmp_path)) == [paths[1], paths[2], paths[0]]
    assert stale_temp_files(str(tmp_path)) == [
        str(tmp_path / '.epoch_4.pth.tmp-123')]
