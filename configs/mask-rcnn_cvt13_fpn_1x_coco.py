# Mask R-CNN + FPN with a CvT-13 backbone, COCO, 1x schedule (12 epochs,
# 8 GPUs x 2 images). Everything else is mmdet's own R-50 config.
#
#   python tools/train.py configs/mask-rcnn_cvt13_fpn_1x_coco.py
#   (or mmdet's tools/train.py with this package installed)
#
# The model (CvT-13, FPN levels P2-P6 from CvT's strides 4/8/16):
# _base_/models/mask-rcnn_cvt13_fpn.py. mmdet's mask-rcnn_r50_fpn_1x_coco.py
# is its R-50 model plus the three bases below, which this config takes
# beside the CvT model. Backbone and optimiser: _base_/cvt_dense.py.
_base_ = [
    './_base_/models/mask-rcnn_cvt13_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
optim_wrapper = _base_.cvt_optim_wrapper
