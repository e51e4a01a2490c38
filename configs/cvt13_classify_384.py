# CvT-13 at 384 (83.0 top-1 reported): the 224 recipe at 384 with the paper's
# 384 test pipeline (resize to 384 x 384, no crop). To fine-tune from a 224
# model instead of training from scratch, add
#   --cfg-options load_from=work_dirs/cvt13_classify/best_accuracy_top1_*.pth
# (or a published checkpoint converted by tools/convert_weights.py) and a
# shorter schedule.
_base_ = [
    './_base_/models/cvt_cls.py', './_base_/datasets/imagenet_384.py',
    './_base_/schedules/adamw_300e.py', './_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=64)
