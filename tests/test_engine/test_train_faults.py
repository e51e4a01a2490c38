"""Faults of a training run (slow, through tools/train.py): a kill in the
middle of a checkpoint save, a cut newest checkpoint, every checkpoint cut,
an explicit broken --resume FILE, a non-finite loss. Injected by small
modules that the config imports (``custom_imports``)."""
import os
import shutil
import signal
import sys

import pytest
import torch

from cvt_backbone.checkpoint.training_state import (
    checkpoint_problem,
    stale_temp_files,
)

from tiny_configs import tiny_cls_config
from tool_runner import run_tool

# Kills the process half-way through writing the checkpoint whose name
# contains $KILL_SAVING (mmengine writes every local file through
# LocalBackend.put).
KILL_SAVING = '''
import os, signal
from mmengine.fileio.backends.local_backend import LocalBackend
_put = LocalBackend.put
def put(self, obj, filepath):
    name = os.environ.get('KILL_SAVING')
    if name and name in os.path.basename(str(filepath)):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    return _put(self, obj, filepath)
LocalBackend.put = put
'''

# Sets a weight to NaN before training iteration ``at_iter`` (0-based), as
# a diverging run would.
POISON = '''
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
@HOOKS.register_module()
class PoisonWeightsHook(Hook):
    def __init__(self, at_iter):
        self.at_iter = at_iter
    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            with torch.no_grad():
                next(runner.model.parameters()).fill_(float('nan'))
'''


def config_with(tmp_path, data, module: str, code: str, extra: str = ''):
    (tmp_path / f'{module}.py').write_text(code)
    imports = ("custom_imports = dict(imports=['cvt_backbone', "
               f"'{module}'], allow_failed_imports=False)\n")
    return tiny_cls_config(tmp_path / 'cfg.py', data, max_epochs=3,
                           extra=imports + extra)


def train(cfg, work, *args, env=None):
    env = dict(env or {})
    env['PYTHONPATH'] = os.pathsep.join(
        [os.path.dirname(cfg), os.environ.get('PYTHONPATH', '')])
    return run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                     str(work), *args], timeout=900, env=env)


def weights(path):
    return torch.load(path, weights_only=True)['state_dict']


def cut(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 3])


@pytest.mark.slow
def test_checkpoint_faults_resume_from_the_newest_readable(tmp_path,
                                                           tiny_cls_data):
    cfg = config_with(tmp_path, tiny_cls_data, 'killsave', KILL_SAVING)
    straight = tmp_path / 'straight'
    res = train(cfg, straight)
    assert res.returncode == 0, res.stderr[-3000:]
    want = weights(straight / 'epoch_3.pth')

    # killed while epoch 2's checkpoint is written: the name never holds
    # the cut file, only a hidden temporary does
    work = tmp_path / 'work'
    res = train(cfg, work, env={'KILL_SAVING': 'epoch_2.pth'})
    assert res.returncode == -signal.SIGKILL, res.stderr[-3000:]
    assert not (work / 'epoch_2.pth').exists()
    assert checkpoint_problem(str(work / 'epoch_1.pth')) is None
    [tmp] = stale_temp_files(str(work))

    res = train(cfg, work, '--resume')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert f'removing {tmp}' in out
    assert 'resumed epoch: 1' in out
    assert not stale_temp_files(str(work))
    got = weights(work / 'epoch_3.pth')
    assert all(torch.equal(want[k], got[k]) for k in want)

    # the newest checkpoint cut short (written by something else, or a
    # disk that lied): named, skipped, the next newest resumed from, and
    # the run ends with the uninterrupted run's weights
    cut(work / 'epoch_3.pth')
    res = train(cfg, work, '--resume')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert f'checkpoint {work / "epoch_3.pth"} cannot be resumed from: ' \
           'cut short' in out
    assert f'resuming from {work / "epoch_2.pth"}, the newest readable' in out
    assert 'resumed epoch: 2' in out
    got = weights(work / 'epoch_3.pth')
    assert all(torch.equal(want[k], got[k]) for k in want)

    # an explicit broken --resume FILE: an error naming it
    cut(work / 'epoch_3.pth')
    res = train(cfg, work, '--resume', str(work / 'epoch_3.pth'))
    assert res.returncode != 0
    assert f'cannot resume from {work / "epoch_3.pth"}: cut short' in \
        res.stderr

    # every checkpoint broken: the run stops, it does not start over
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        cut(work / name)
    res = train(cfg, work, '--resume')
    assert res.returncode != 0
    assert 'no checkpoint of' in res.stderr
    assert 'does not start over' in res.stderr
    assert 'Epoch(train)' not in res.stdout


@pytest.mark.slow
def test_a_non_finite_loss_stops_the_run_naming_iteration_and_checkpoint(
        tmp_path, tiny_cls_data):
    # 144 images, batch 16: 9 iterations an epoch; iteration index 12 is
    # epoch 2's fourth
    cfg = config_with(tmp_path, tiny_cls_data, 'poison', POISON,
                      "custom_hooks = _base_.custom_hooks + [dict("
                      "type='PoisonWeightsHook', at_iter=12)]\n")
    work = tmp_path / 'work'
    res = train(cfg, work)
    assert res.returncode != 0
    assert 'NonFiniteLossError: the training loss is not finite at ' \
           'iteration 13 (epoch 2, batch 4): loss=nan' in res.stderr
    assert f'the last checkpoint, saved before it, is ' \
           f'{work / "epoch_1.pth"}' in res.stderr
    assert not (work / 'epoch_2.pth').exists()
    shutil.rmtree(work)
