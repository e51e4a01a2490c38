"""Training through tools/train.py: safe resume, the AMP fallback, and (slow)
end-to-end runs: learning, SIGKILL + --resume equivalence, 2 processes."""
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import CodeRunningPickle
from cvt_backbone import runtime
from cvt_backbone.synthetic import SyntheticSpec, generate_classification

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = dict(_delete_=True, embed_dims=[32, 64, 96], depths=[1, 1, 2],
            num_heads=[1, 2, 2])


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('syn'))
    return generate_classification(
        root, SyntheticSpec(image_size=32, train_per_class=24,
                            val_per_class=10), verbose=False)


def tiny_config(path, data_root: str, max_epochs: int = 4,
                deterministic: bool = True) -> str:
    """The demo config with a small CvT, small images and no workers."""
    text = f"""
_base_ = [{osp.join(ROOT, 'configs', 'demo_cvt13_synthetic.py')!r}]
data_root = {data_root!r}
model = dict(backbone=dict(arch={TINY!r}, drop_path_rate=0.1),
             head=dict(in_channels=96))
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root,
                                     pipeline=[dict(type='LoadImage'),
                                               dict(type='RandomResizedCrop',
                                                    size=32, scale=(0.6, 1.)),
                                               dict(type='RandomFlip',
                                                    prob=0.5),
                                               dict(type='PackClsInputs')]))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_epochs = {max_epochs}
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, T_max=max_epochs - 1, convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=2),
                     checkpoint=dict(max_keep_ckpts=-1, save_best=None))
randomness = dict(seed=0, deterministic={deterministic})
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def run_tool(args, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True,
                          text=True, **kw)


def scalars(work_dir):
    from cvt_backbone.curves import read_scalars, split_records
    return split_records(read_scalars(work_dir))


# -- resume safety ------------------------------------------------------------
def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    import numpy as np
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('safe-load-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('extra', np.arange(3))
    ckpt = dict(meta=dict(epoch=2, seed=np.int64(7)),
                message_hub=hub.state_dict(),
                state_dict={'w': torch.ones(2)})
    torch.save(ckpt, tmp_path / 'epoch_2.pth')
    loaded = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 0.5
    assert loaded['meta']['seed'] == 7


class _GetattrAttack:
    """A pickle that reaches through the allowed HistoryBuffer for anything
    other than its statistics methods."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_code_running_pickles_are_still_refused(tmp_path):
    import pickle
    torch.save({'x': _GetattrAttack()}, tmp_path / 'a.pth')
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        torch.load(tmp_path / 'a.pth', weights_only=True)
    marker = tmp_path / 'pwned'
    torch.save({'x': CodeRunningPickle(marker)}, tmp_path / 'b.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 'b.pth', weights_only=True)
    assert not marker.exists()
    # mmengine's own loader (used by --resume) refuses it as well
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(str(tmp_path / 'b.pth'), map_location='cpu')
    assert not marker.exists()


def test_amp_falls_back_to_fp32_without_cuda(tmp_path, tiny_data):
    cfg_path = tiny_config(tmp_path / 'c.py', tiny_data)
    cfg = runtime.build_config(cfg_path, amp=True)
    expect = 'AmpOptimWrapper' if torch.cuda.is_available() else 'OptimWrapper'
    assert cfg.optim_wrapper.type == expect
    cfg = runtime.build_config(cfg_path, launcher='pytorch')
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.find_unused_parameters


# -- end to end (slow) --------------------------------------------------------
@pytest.mark.slow
def test_train_learns_and_reports(tmp_path, tiny_data):
    cfg = tiny_config(tmp_path / 'cfg.py', tiny_data, max_epochs=8,
                      deterministic=False)
    work = tmp_path / 'work'
    res = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                    str(work)], timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    train, val = scalars(str(work))
    losses = [r['loss'] for r in train.values()]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.2
    top1 = [r['accuracy/top1'] for r in val]
    assert max(top1[-2:]) >= 50, top1  # 6 classes: chance is 16.7 %
    assert 'eta:' in res.stdout  # progress with ETA
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['metrics']['accuracy/top1'] == top1[-1]
    assert osp.isfile(summary['checkpoint'])
    png = open(summary['curves'], 'rb').read(8)
    assert png == b'\x89PNG\r\n\x1a\n'
    # tools/test.py evaluates the checkpoint to the same figure
    res = run_tool([sys.executable, 'tools/test.py', cfg,
                    summary['checkpoint'], '--work-dir', str(tmp_path / 't')],
                   timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"accuracy/top1: {top1[-1]:.2f}" in res.stdout
    # tools/plot_curves.py on the work dir
    res = run_tool([sys.executable, 'tools/plot_curves.py', str(work),
                    '--out', str(tmp_path / 'c.png')], timeout=300)
    assert res.returncode == 0 and (tmp_path / 'c.png').stat().st_size > 0


def final_weights(work_dir, epoch):
    ckpt = torch.load(osp.join(work_dir, f'epoch_{epoch}.pth'),
                      weights_only=True)
    return ckpt['state_dict'], ckpt['optimizer']


@pytest.mark.slow
def test_sigkill_and_resume_loses_nothing(tmp_path, tiny_data):
    n = 4
    cfg = tiny_config(tmp_path / 'cfg.py', tiny_data, max_epochs=n)
    straight = tmp_path / 'straight'
    res = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                    str(straight)], timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]

    broken = tmp_path / 'broken'
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', str(broken)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    last = broken / 'last_checkpoint'
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if last.exists() and f'epoch_{n // 2}.pth' in last.read_text():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, 'training was not killed'
    assert not (broken / f'epoch_{n}.pth').exists()
    killed_at = int(last.read_text().strip().rsplit('_', 1)[1][:-4])

    res = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir',
                    str(broken), '--resume'], timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f'resumed epoch: {killed_at}' in res.stdout
    assert f'Epoch(train) [{killed_at + 1}]' in res.stdout
    assert f'Epoch(train) [{killed_at}]' not in res.stdout

    want_w, want_opt = final_weights(straight, n)
    got_w, got_opt = final_weights(broken, n)
    assert want_w.keys() == got_w.keys()
    for k in want_w:
        assert torch.equal(want_w[k], got_w[k]), k
    for a, b in zip(want_opt['state'].values(), got_opt['state'].values()):
        assert torch.equal(a['exp_avg'], b['exp_avg'])


@pytest.mark.slow
def test_two_process_training_through_torch_distributed(tmp_path, tiny_data):
    cfg = tiny_config(tmp_path / 'cfg.py', tiny_data, max_epochs=2)
    work = tmp_path / 'dist'
    res = run_tool(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
                    str(work)], timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert 'Distributed launcher: pytorch' in log
    # 144 training images, batch 16 per process: two processes share the
    # epoch, 72 images (5 iterations) each, where one process needs 9
    assert re.search(r'Epoch\(train\) \[1\]\[\d+/5\]', log), 'epoch not split'
    assert (work / 'epoch_2.pth').is_file()
    train, _ = scalars(str(work))
    assert train, 'no training iterations were logged'
