# RetinaNet + FPN with CvT-13, COCO 1x. Everything else is mmdet's R-50
# config.
#
# RetinaNet predicts on strides 8-128. CvT's stride-8 and stride-16 maps
# (stages 1 and 2, 192/384 channels) go into FPN, which adds three levels
# with stride-2 convs on the last backbone map ('on_input'): P3-P7 =
# strides 8, 16, 32, 64, 128, matching the anchor strides. Stage 0 is not
# returned (out_indices=(1, 2)), so no unused output norm is trained.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/cvt_dense.py'
]
model = dict(
    backbone=dict(_base_.cvt_backbone, out_indices=(1, 2)),
    neck=dict(in_channels=[192, 384], start_level=0,
              add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(anchor_generator=dict(strides=[8, 16, 32, 64, 128])))
optim_wrapper = _base_.cvt_optim_wrapper
