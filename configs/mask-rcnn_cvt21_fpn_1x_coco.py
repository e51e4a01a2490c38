# Mask R-CNN + FPN with CvT-21 (same widths as CvT-13, deeper), COCO 1x.
# See mask-rcnn_cvt13_fpn_1x_coco.py for the FPN levels, the BatchNorm
# choice and the optimiser.
_base_ = './mask-rcnn_cvt13_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='21', drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='cvt-21')))
