# Semantic FPN with CvT-13, ADE20K 512x512, 160k (mmseg's R-50 config
# otherwise).
#
# FPNHead expects four levels, strides 4-32. FPN takes CvT's strides 4/8/16
# and adds the stride-32 level with a stride-2 conv on the last backbone map
# ('on_input'). Backbone BatchNorm (_base_/cvt_seg.py), optimiser and
# schedule as in upernet_cvt13_512x512_160k_ade20k.py.
_base_ = [
    'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py',
    './_base_/cvt_seg.py'
]
model = dict(
    pretrained=None,
    backbone=_base_.cvt_seg_backbone,
    neck=dict(in_channels=[64, 192, 384], out_channels=256,
              add_extra_convs='on_input', num_outs=4),
    decode_head=dict(in_channels=[256, 256, 256, 256], in_index=[0, 1, 2, 3],
                     feature_strides=[4, 8, 16, 32], num_classes=150))
optim_wrapper = _base_.cvt_optim_wrapper
param_scheduler = _base_.cvt_seg_param_scheduler
