"""Stop on a non-finite loss with the iteration and the checkpoint to go
back to; say when AMP's loss scaler keeps skipping steps.

mmengine's ``CheckInvalidLossHook`` asserts "loss become infinite or NaN!"
every ``interval`` iterations, without the iteration, the loss terms or the
checkpoint to resume from, and it knows nothing of AMP, where a step with
non-finite gradients is skipped by the loss scaler without a word, so a run
whose gradients overflow at every scale trains on without moving.
"""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def _finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.detach()).all())
    return math.isfinite(float(value))


def _as_text(value) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().mean().item()
    return f'{float(value):.4g}'


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Check each training iteration's loss; with AMP, watch the scaler.

    Args:
        max_skipped_steps (int): warn when AMP's loss scaler has skipped
            this many optimizer steps in a row (their gradients were inf or
            NaN at every scale tried), and again at each further multiple.
            A few skips while the dynamic scale settles at the start are
            normal; a run of them is not. Default 10.
    """

    priority = 'ABOVE_NORMAL'  # before the checkpoint hook saves a NaN model

    def __init__(self, max_skipped_steps: int = 10):
        if max_skipped_steps < 1:
            raise ValueError('max_skipped_steps must be >= 1, got '
                             f'{max_skipped_steps}')
        self.max_skipped_steps = max_skipped_steps
        self._scale: Optional[float] = None
        self.skipped_in_a_row = 0
        self.skipped_total = 0

    @staticmethod
    def _last_checkpoint(runner) -> str:
        path = runner.message_hub.get_info('last_ckpt')
        if path:
            return (f'the last checkpoint, saved before it, is {path} '
                    f'(resume from it with --resume {path}, after lowering '
                    'the learning rate or adding gradient clipping)')
        return 'no checkpoint has been saved yet in this run'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        outputs = outputs or {}
        loss = outputs.get('loss')
        if loss is not None and not _finite(loss):
            terms = ', '.join(f'{k}={_as_text(v)}' for k, v in outputs.items()
                              if isinstance(v, (torch.Tensor, float, int)))
            raise NonFiniteLossError(
                f'the training loss is not finite at iteration '
                f'{runner.iter + 1} (epoch {runner.epoch + 1}, batch '
                f'{batch_idx + 1}): {terms}; {self._last_checkpoint(runner)}')
        self._watch_scaler(runner)

    def _watch_scaler(self, runner) -> None:
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        if scaler is None or not scaler.is_enabled():
            return
        scale = float(scaler.get_scale())
        if self._scale is not None and scale < self._scale:
            # the dynamic scaler lowers its scale exactly when it skips
            self.skipped_in_a_row += 1
            self.skipped_total += 1
            if self.skipped_in_a_row % self.max_skipped_steps == 0:
                runner.logger.warning(
                    f'AMP: the loss scaler skipped the last '
                    f'{self.skipped_in_a_row} optimizer steps in a row (the '
                    f'gradients were inf or NaN at every scale; the scale is '
                    f'now {scale:g}), {self.skipped_total} in this run: the '
                    f'model is not being updated (iteration {runner.iter + 1}'
                    f'). Lower the learning rate, clip gradients or train in '
                    'fp32 (without --amp)')
        elif self._scale is not None:
            self.skipped_in_a_row = 0
        self._scale = scale
        runner.message_hub.update_info('amp_skipped_steps',
                                       self.skipped_total)
