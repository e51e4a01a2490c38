"""NonFiniteLossHook: a NaN or inf loss stops the run with the iteration
and the checkpoint to go back to; AMP's loss scaler (torch's GradScaler,
here on the CPU) skipping step after step is reported."""
import itertools
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger

from cvt_backbone.engine import NonFiniteLossError, NonFiniteLossHook

from log_capture import captured_log

_hubs = itertools.count()


def fake_runner(optim_wrapper=None, last_ckpt=None):
    """What the hook reads of a Runner: counters, a message hub of its own,
    the logger and the optimizer wrapper."""
    hub = MessageHub.get_instance(f'nonfinite-{next(_hubs)}')
    if last_ckpt:
        hub.update_info('last_ckpt', last_ckpt)
    return SimpleNamespace(iter=41, epoch=4, message_hub=hub,
                           logger=MMLogger.get_current_instance(),
                           optim_wrapper=optim_wrapper or SimpleNamespace())


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_loss_names_iteration_terms_and_checkpoint(bad):
    hook = NonFiniteLossHook()
    runner = fake_runner(last_ckpt='/w/epoch_4.pth')
    hook.after_train_iter(runner, 3, outputs={'loss': torch.tensor(0.7)})
    with pytest.raises(NonFiniteLossError) as e:
        hook.after_train_iter(runner, 3, outputs={
            'loss': torch.tensor(bad), 'loss_cls': torch.tensor(bad),
            'accuracy': torch.tensor(12.5)})
    msg = str(e.value)
    assert 'iteration 42 (epoch 5, batch 4)' in msg
    assert f'loss={bad:.4g}' in msg and 'accuracy=12.5' in msg
    assert '--resume /w/epoch_4.pth' in msg
    with pytest.raises(NonFiniteLossError, match='no checkpoint has been'):
        NonFiniteLossHook().after_train_iter(
            fake_runner(), 0, outputs={'loss': torch.tensor(bad)})


def steps(scaler, n, grad):
    """``n`` optimizer steps through ``scaler`` with every gradient equal
    to ``grad``; the scale after each."""
    p = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.SGD([p], lr=0.1)
    for _ in range(n):
        opt.zero_grad()
        scaler.scale((p * grad).sum()).backward()
        scaler.step(opt)
        scaler.update()
        yield p.detach().clone()


def test_amp_scaler_skipping_every_step_is_reported():
    scaler = torch.amp.GradScaler('cpu', init_scale=2.**16)
    runner = fake_runner(SimpleNamespace(loss_scaler=scaler))
    hook = NonFiniteLossHook(max_skipped_steps=5)
    ok = {'loss': torch.tensor(1.0)}
    with captured_log() as log:
        for _ in steps(scaler, 3, 1.0):          # finite: steps are taken
            hook.after_train_iter(runner, 0, outputs=ok)
        assert hook.skipped_in_a_row == 0 and not log
        params = []
        for p in steps(scaler, 12, float('inf')):  # overflow every time
            params.append(p)
            hook.after_train_iter(runner, 0, outputs=ok)
    # the scaler really skipped: the weights did not move
    assert all(torch.equal(params[0], p) for p in params)
    assert hook.skipped_total == 12
    warned = [m for m in log if 'loss scaler skipped' in m]
    assert len(warned) == 2  # at 5 and 10 in a row
    assert 'the last 5 optimizer steps in a row' in warned[0]
    assert 'not being updated' in warned[0]
    assert runner.message_hub.get_info('amp_skipped_steps') == 12
    with captured_log() as log:
        for _ in steps(scaler, 2, 1.0):          # recovers
            hook.after_train_iter(runner, 0, outputs=ok)
    assert hook.skipped_in_a_row == 0 and not log


def test_fp32_runs_and_bad_settings():
    hook = NonFiniteLossHook()
    runner = fake_runner(SimpleNamespace())  # OptimWrapper: no scaler
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(2.0)})
    assert hook.skipped_total == 0
    with pytest.raises(ValueError, match='max_skipped_steps'):
        NonFiniteLossHook(max_skipped_steps=0)
