# UperNet with a CvT-13 backbone, ADE20K 512x512, 160k iterations
# (4 GPUs x 4 crops). Everything else is mmseg's R-50 config.
#
#   python tools/train.py configs/upernet_cvt13_512x512_160k_ade20k.py
#
# The heads on CvT's three maps and the projection BatchNorm (SyncBN,
# trained): _base_/cvt_seg.py; optimiser and schedule: _base_/cvt_dense.py.
_base_ = [
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
    './_base_/cvt_seg.py'
]
model = _base_.cvt_upernet
optim_wrapper = _base_.cvt_optim_wrapper
param_scheduler = _base_.cvt_seg_param_scheduler
