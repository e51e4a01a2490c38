import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed torch, numpy and ``random`` from ``(seed, epoch)`` before
    each training epoch, so a resumed run ends with the same weights as an
    uninterrupted one.

    mmengine's checkpoints keep no RNG state, and evaluation after a
    checkpoint consumes random numbers, so a resumed run would otherwise draw
    different augmentations, Mixup/CutMix and drop-path masks than an
    uninterrupted one; mmpretrain has no hook for this. With it each epoch's
    randomness depends only on the seed (which mmengine restores on resume)
    and the epoch.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        if runner.seed is None:
            return
        seed = (int(runner.seed) * 1_000_003 + runner.epoch) % 2**31
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
