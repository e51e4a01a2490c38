# UperNet with CvT-13, Cityscapes 512x1024 crops, 80k iterations
# (4 GPUs x 2 crops, 8 across GPUs; mmseg's R-50 config otherwise).
# Backbone (trained SyncBN), heads and optimiser as in
# upernet_cvt13_512x512_160k_ade20k.py (_base_/cvt_seg.py); the poly decay
# ends at 80k.
_base_ = [
    'mmseg::upernet/upernet_r50_4xb2-80k_cityscapes-512x1024.py',
    './_base_/cvt_seg.py'
]
model = _base_.cvt_upernet
optim_wrapper = _base_.cvt_optim_wrapper
param_scheduler = [
    _base_.cvt_seg_param_scheduler[0],
    dict(_base_.cvt_seg_param_scheduler[1], end=80000),
]
