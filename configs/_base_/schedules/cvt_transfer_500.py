# Fine-tuning schedule of the transfer study for Oxford-IIIT Pets and
# Flowers-102: 500 SGD steps at batch 512 (the paper's count), as
# ./cvt_transfer_10k.py (where the choices are explained) with a 100-step
# warm-up (ViT's 500 would be the whole run; 100 is BiT's warm-up for
# datasets under 20k images, the rule these 500 steps come from).
_base_ = './cvt_transfer_10k.py'

warmup_iters = 100
max_iters = 500
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_iters),
    dict(_base_.param_scheduler[1], begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
