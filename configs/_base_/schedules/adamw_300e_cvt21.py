# CvT-21 / CvT-W24 optimisation: the CvT-13 schedule with weight decay 0.1
# and lr 1.25e-4 per 128 images/GPU (1e-3 at total batch 1024 on 8 GPUs).
_base_ = ['./adamw_300e.py']
base_lr = 1e-3
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / base_lr, by_epoch=True, begin=0,
         end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5,
         end=300, T_max=295, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)
