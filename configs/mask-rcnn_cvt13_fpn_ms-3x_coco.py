# Mask R-CNN + FPN with CvT-13, COCO, 3x schedule (36 epochs) with
# multi-scale training (shorter side 640-800, mmdet's ms-poly 3x recipe; it
# repeats the dataset 3 times per "epoch", so the schedule counts 12 of
# them). Model, BatchNorm choice and optimiser as in the 1x config, with
# drop path 0.2 for the longer schedule.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_ms-poly-3x_coco.py',
    './_base_/cvt_dense.py'
]
model = dict(
    backbone=dict(_base_.cvt_backbone, drop_path_rate=0.2),
    neck=dict(in_channels=[64, 192, 384], add_extra_convs='on_input',
              num_outs=5),
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32]),
        mask_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])))
optim_wrapper = _base_.cvt_optim_wrapper
