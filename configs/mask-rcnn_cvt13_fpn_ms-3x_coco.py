# Mask R-CNN + FPN with CvT-13, COCO, 3x schedule (36 epochs) with
# multi-scale training (shorter side 640-800, mmdet's ms-poly 3x recipe; it
# repeats the dataset 3 times per "epoch", so the schedule counts 12 of
# them). mmdet's mask-rcnn_r50_fpn_ms-poly-3x_coco.py is that recipe plus
# its R-50 model; here the CvT model of the 1x config
# (_base_/models/mask-rcnn_cvt13_fpn.py: BatchNorm choice and optimiser as
# there), with drop path 0.2 for the longer schedule.
_base_ = [
    'mmdet::common/ms-poly_3x_coco-instance.py',
    './_base_/models/mask-rcnn_cvt13_fpn.py'
]
model = dict(backbone=dict(drop_path_rate=0.2))
optim_wrapper = _base_.cvt_optim_wrapper
