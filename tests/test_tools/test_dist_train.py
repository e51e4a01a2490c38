"""tools/dist_train.sh: torchrun with elastic restarts, c10d rendezvous and
auto-resume. Fast: the command line it builds (a stub in place of Python)
and train.py's --resume without a checkpoint. Slow: a worker SIGKILLed
mid-epoch on the first attempt is restarted with its group, the run
resumes from the last epoch checkpoint and ends with the uninterrupted
run's weights; the same with two "hosts" (network namespaces joined by a
veth pair), which also match one host with two processes."""
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest
import torch

from cvt_backbone.engine import build_config

from tiny_configs import tiny_cls_config
from tool_runner import ROOT, run_tool

EPOCHS = 3

# Test-only: loaded by the config's custom_imports from tmp_path. When
# KILLER_ARMED=1, rank 1 kills itself (SIGKILL: no clean-up, no traceback)
# before the 3rd iteration of epoch 2 on torchrun's first attempt only.
KILLER = '''
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillRankOneOnceHook(Hook):

    def before_run(self, runner):
        print(f"killer: rank {os.environ.get('RANK')} attempt "
              f"{os.environ.get('TORCHELASTIC_RESTART_COUNT')}", flush=True)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if (os.environ.get('KILLER_ARMED') == '1'
                and os.environ.get('RANK') == '1'
                and os.environ.get('TORCHELASTIC_RESTART_COUNT') == '0'
                and runner.epoch == 1 and batch_idx == 2):
            print('killer: SIGKILL to rank 1', flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def killer_config(folder, data_root) -> str:
    """The tiny classifier config with the killer hook, its module in
    ``folder`` (which goes on PYTHONPATH)."""
    (folder / 'killer.py').write_text(KILLER)
    extra = """
custom_imports = dict(imports=['cvt_backbone', 'killer'],
                      allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [dict(type='KillRankOneOnceHook')]
"""
    return tiny_cls_config(folder / 'cfg.py', data_root, max_epochs=EPOCHS,
                           extra=extra)


def train_env(folder, **kw) -> dict:
    """Environment of a dist_train.sh run. One thread per process in every
    set-up (torchrun sets OMP_NUM_THREADS=1 itself only for more than one
    process per node): the same kernels, the same sums, bit-equal weights
    across the set-ups; and the CPU is not oversubscribed. LOGLEVEL=INFO
    makes torchrun's agent say when it restarts the worker group."""
    path = os.pathsep.join(p for p in (ROOT, str(folder),
                                       os.environ.get('PYTHONPATH')) if p)
    env = dict(PYTHONPATH=path, OMP_NUM_THREADS='1', LOGLEVEL='INFO',
               PORT=str(free_port()), RDZV_ID=f'test{os.getpid()}')
    env.update(kw)
    return env


def final_weights(work_dir):
    ckpt = torch.load(osp.join(work_dir, f'epoch_{EPOCHS}.pth'),
                      weights_only=True)
    return ckpt['state_dict'], ckpt['optimizer']


def assert_same_weights(want_dir, got_dir):
    want_w, want_opt = final_weights(want_dir)
    got_w, got_opt = final_weights(got_dir)
    assert want_w.keys() == got_w.keys()
    for k in want_w:
        assert torch.equal(want_w[k], got_w[k]), k
    assert want_opt['state'].keys() == got_opt['state'].keys()
    for k, a in want_opt['state'].items():
        b = got_opt['state'][k]
        for name in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(a[name], b[name]), (k, name)


def assert_one_restart(log):
    """One restart, whose workers start and train (with the rendezvous store
    shared with the workers, torch 2.14 could need several: a restarted
    rank read a dead peer's address from it)."""
    assert log.count('will restart worker group') == 1, log[-3000:]


def assert_resumed_once(log):
    """The log of rank 0 (mmengine logs on rank 0 only) of a run whose rank
    1 died at the 3rd iteration of epoch 2 on the first attempt: epoch 1
    ran once, epoch 2 was begun, then redone after resuming from
    epoch_1.pth, epoch 3 ran once. 5 iterations per epoch (144 images,
    batch 16, 2 processes), logged every 2."""
    assert 'resumed epoch: 1' in log, log[-3000:]
    assert log.count('Epoch(train) [1][2/5]') == 1
    assert log.count('Epoch(train) [2][2/5]') == 2  # before and after
    assert log.count('Epoch(train) [2][4/5]') == 1
    assert log.count(f'Epoch(train) [{EPOCHS}][4/5]') == 1


# -- the command line (fast) -------------------------------------------------
@pytest.fixture
def argv_of(tmp_path):
    """dist_train.sh's torchrun command line, with a stub for $PYTHON that
    prints its arguments."""
    stub = tmp_path / 'python'
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)

    def run(*args, **env):
        clean = {k: v for k, v in os.environ.items()
                 if k not in ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT',
                              'RDZV_ID', 'RDZV_HOST', 'LOCAL_ADDR',
                              'RESUME', 'MAX_RESTARTS', 'SLURM_JOB_ID')}
        res = subprocess.run(['bash', 'tools/dist_train.sh', 'cfg.py', '2',
                              *args], cwd=ROOT, capture_output=True,
                             text=True, env=dict(clean, PYTHON=str(stub),
                                                 **env), timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout.splitlines()
    return run


def test_dist_train_command_line(argv_of):
    argv = argv_of('--work-dir', 'w')
    assert argv[:2] == ['-m', 'torch.distributed.run']
    for flag in ('--nnodes=1', '--nproc-per-node=2', '--max-restarts=3',
                 '--rdzv-backend=c10d', '--rdzv-endpoint=127.0.0.1:29500',
                 '--rdzv-id=cvt_backbone'):
        assert flag in argv, (flag, argv)
    assert not any(a.startswith('--rdzv-conf') for a in argv)
    script = argv.index(osp.join(ROOT, 'tools', 'train.py'))
    assert argv[script + 1:] == ['cfg.py', '--launcher', 'pytorch',
                                 '--work-dir', 'w', '--resume']

    argv = argv_of(NNODES='2', NODE_RANK='0', MASTER_ADDR='10.0.0.1',
                   PORT='1234', RDZV_ID='job', MAX_RESTARTS='5',
                   LOCAL_ADDR='10.0.0.1')
    for flag in ('--nnodes=2', '--max-restarts=5', '--rdzv-id=job',
                 '--rdzv-endpoint=10.0.0.1:1234', '--rdzv-conf=is_host=1',
                 '--local-addr=10.0.0.1'):
        assert flag in argv, (flag, argv)
    assert '--rdzv-conf=is_host=0' in argv_of(NNODES='2', NODE_RANK='1')
    assert '--rdzv-conf=is_host=0' in argv_of(NNODES='2', RDZV_HOST='0')
    assert '--rdzv-conf=is_host=1' in argv_of(RDZV_HOST='1')
    assert '--rdzv-id=77' in argv_of(SLURM_JOB_ID='77')


def test_dist_train_adds_resume_once(argv_of):
    assert argv_of().count('--resume') == 1
    assert argv_of('--resume').count('--resume') == 1
    argv = argv_of('--resume', 'x.pth', '--amp')
    assert argv.count('--resume') == 1
    assert argv[argv.index('--resume') + 1] == 'x.pth'
    argv = argv_of('--resume=x.pth')
    assert '--resume' not in argv and '--resume=x.pth' in argv
    assert not any(a.startswith('--resume') for a in argv_of(RESUME='0'))
    assert argv_of(RESUME='1')[-1] == '--resume'


def test_resume_without_checkpoint_keeps_load_from(tmp_path):
    """--resume (as dist_train.sh passes it to every start) in a work dir
    without checkpoints is a fresh start with the config's load_from
    (fine-tuning from a published model); with one, it resumes."""
    cfg_path = tiny_cls_config(tmp_path / 'c.py', str(tmp_path / 'data'),
                               extra="load_from = 'pretrained.pth'")
    work = tmp_path / 'work'
    cfg = build_config(cfg_path, work_dir=str(work), resume='auto')
    assert not cfg.resume
    assert 'pretrained.pth' in cfg.load_from
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    cfg = build_config(cfg_path, work_dir=str(work), resume='auto')
    assert cfg.resume and cfg.load_from is None
    # an explicit checkpoint is resumed from as before
    cfg = build_config(cfg_path, resume='x.pth')
    assert cfg.resume and cfg.load_from == 'x.pth'


# -- one host, two processes (slow) ------------------------------------------
@pytest.fixture(scope='module')
def straight(tmp_path_factory, tiny_cls_data):
    """An uninterrupted 2-process run through dist_train.sh (config, work
    dir), with the killer hook loaded but not armed."""
    folder = tmp_path_factory.mktemp('dist')
    cfg = killer_config(folder, tiny_cls_data)
    work = folder / 'straight'
    res = run_tool(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
                    str(work)], timeout=600, env=train_env(folder))
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert 'will restart worker group' not in log
    assert 'resumed epoch' not in log
    return folder, cfg, work


@pytest.mark.slow
def test_killed_worker_is_restarted_and_resumes(straight):
    folder, cfg, want = straight
    work = folder / 'killed'
    res = run_tool(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
                    str(work)], timeout=600,
                   env=train_env(folder, KILLER_ARMED='1'))
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert 'killer: SIGKILL to rank 1' in log, log[-3000:]
    for rank in (0, 1):
        assert f'killer: rank {rank} attempt 0' in log
        assert f'killer: rank {rank} attempt 1' in log
    assert_one_restart(log)
    assert_resumed_once(log)
    assert_same_weights(want, work)


# -- two hosts: network namespaces joined by a veth pair (slow) -------------
IP = shutil.which('ip') or '/usr/sbin/ip'
SUBNET = '10.231.0.{}'


@pytest.fixture
def two_hosts(request):
    """Two network namespaces, 10.231.0.1 and 10.231.0.2 on a veth pair
    (a /30 inside the namespaces only), removed at the end: a list of
    (namespace, interface, address)."""
    if os.geteuid() != 0:
        pytest.skip('network namespaces need root')
    if not osp.exists(IP):
        pytest.skip('iproute2 (ip) is not installed')
    tag = f'{os.getpid() % 100000}'
    hosts = [(f'cvt{tag}h{i}', f'cvt{tag}v{i}', SUBNET.format(i + 1))
             for i in range(2)]

    def ip(*args):
        return subprocess.run([IP, *args], capture_output=True, text=True)

    def remove():
        for ns, _, _ in hosts:
            ip('netns', 'del', ns)
    request.addfinalizer(remove)
    res = ip('netns', 'add', hosts[0][0])
    if res.returncode != 0:
        pytest.skip(f'ip netns add failed: {res.stderr.strip()}')
    steps = [('netns', 'add', hosts[1][0]),
             ('link', 'add', hosts[0][1], 'type', 'veth', 'peer', 'name',
              hosts[1][1])]
    for ns, dev, addr in hosts:
        steps += [('link', 'set', dev, 'netns', ns),
                  ('-n', ns, 'addr', 'add', f'{addr}/30', 'dev', dev),
                  ('-n', ns, 'link', 'set', dev, 'up'),
                  ('-n', ns, 'link', 'set', 'lo', 'up')]
    for step in steps:
        res = ip(*step)
        assert res.returncode == 0, (step, res.stderr)
    return hosts


def run_on_hosts(hosts, cfg, work, folder, timeout=600, **env):
    """dist_train.sh CONFIG 1 in each namespace at once, node 0 in the
    first: (return codes, logs)."""
    port = str(free_port())
    procs, logs = [], []
    try:
        for rank, (ns, dev, addr) in enumerate(hosts):
            log = open(folder / f'{work.name}_node{rank}.log', 'w')
            logs.append(log)
            node_env = train_env(folder, NNODES='2', NODE_RANK=str(rank),
                                 MASTER_ADDR=hosts[0][2], PORT=port,
                                 LOCAL_ADDR=addr, GLOO_SOCKET_IFNAME=dev,
                                 PYTHON=sys.executable, PYTHONUNBUFFERED='1',
                                 **env)
            procs.append(subprocess.Popen(
                [IP, 'netns', 'exec', ns, 'bash', 'tools/dist_train.sh',
                 cfg, '1', '--work-dir', str(work)], cwd=ROOT,
                env=dict(os.environ, **node_env), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()
    return codes, [open(log.name).read() for log in logs]


@pytest.mark.slow
def test_two_hosts_train_like_one_and_survive_a_lost_worker(straight,
                                                            two_hosts):
    """Gloo across the veth pair, c10d rendezvous hosted by node 0: the
    same weights as one host with two processes (world size 2 either way:
    the same shards, seeds and two-term gradient sums, one thread each).
    Then rank 1 (the second namespace) is killed: both nodes restart their
    workers, resume from epoch_1.pth and end with the same weights."""
    folder, cfg, want = straight
    work = folder / 'hosts'
    codes, logs = run_on_hosts(two_hosts, cfg, work, folder)
    assert codes == [0, 0], [log[-3000:] for log in logs]
    assert 'killer: rank 0 attempt 0' in logs[0]
    assert 'killer: rank 1 attempt 0' in logs[1]
    assert re.search(r'Epoch\(train\) \[1\]\[\d+/5\]', logs[0])
    assert_same_weights(want, work)

    work = folder / 'hosts_killed'
    codes, logs = run_on_hosts(two_hosts, cfg, work, folder,
                               KILLER_ARMED='1')
    assert codes == [0, 0], [log[-3000:] for log in logs]
    assert 'killer: SIGKILL to rank 1' in logs[1], logs[1][-3000:]
    # both nodes restarted their worker: node 1's agent after its failure
    # (attempt 1), node 0's when node 1 came back to the rendezvous (a
    # membership change, which torchrun does not count: still attempt 0)
    assert 'killer: rank 1 attempt 1' in logs[1], logs[1][-3000:]
    for rank, log in enumerate(logs):
        assert_one_restart(log)
        assert len(re.findall(f'killer: rank {rank} attempt', log)) == 2, \
            log[-3000:]
    assert_resumed_once(logs[0] + logs[1])  # rank 0 logs, on either node
    assert_same_weights(want, work)
