# CvT-21 and CvT-W24 optimisation of the release: the CvT-13 schedule with
# weight decay 0.1 and lr 1.25e-4 per 128 images/GPU (1e-3 at total batch
# 1024), the warm-up still starting from 1e-6.
_base_ = './cvt_adamw_300e.py'

base_lr = 1e-3
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=0.1))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-6 / base_lr),
    _base_.param_scheduler[1],
]
auto_scale_lr = dict(base_batch_size=1024)
