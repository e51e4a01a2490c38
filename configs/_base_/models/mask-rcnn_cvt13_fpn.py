# Mask R-CNN + FPN with a CvT-13 backbone: mmdet's R-50 model
# (mmdet::_base_/models/mask-rcnn_r50_fpn.py) with the backbone, FPN levels
# and anchor/RoI strides for CvT. The COCO configs add mmdet's data and
# schedule pieces (1x: mask-rcnn_cvt13_fpn_1x_coco.py; 3x multi-scale:
# mask-rcnn_cvt13_fpn_ms-3x_coco.py).
#
# CvT has three stages, strides 4/8/16 (64/192/384 channels for CvT-13/21,
# 192/768/1024 for W24) and no stride-32 stage. FPN takes all three and
# adds two levels with stride-2 convs on the last backbone map
# ('on_input'), giving P2-P6 = strides 4, 8, 16, 32, 64: the RPN anchor
# strides [4, 8, 16, 32, 64] and the RoI extractors' [4, 8, 16, 32] of the
# base config match. P5 is a learned conv rather than a max-pool, since
# the RoI heads read it. Backbone and optimiser: ../cvt_dense.py.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', '../cvt_dense.py'
]
model = dict(
    backbone=_base_.cvt_backbone,
    neck=dict(in_channels=[64, 192, 384], add_extra_convs='on_input',
              num_outs=5),
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32]),
        mask_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])))
