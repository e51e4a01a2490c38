# Mask R-CNN + FPN with CvT-21 (same widths as CvT-13, deeper), COCO 1x.
# See mask-rcnn_cvt13_fpn_1x_coco.py for the FPN levels, the BatchNorm
# choice and the optimiser.
_base_ = './mask-rcnn_cvt13_fpn_1x_coco.py'

pretrained = 'checkpoints/cvt-21_in1k.pth'  # CvT-21-224x224-IN-1k.pth etc.
model = dict(
    backbone=dict(arch='21', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
