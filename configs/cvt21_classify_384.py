# CvT-21 at 384 (83.3 top-1 reported): the CvT-21 recipe at 384 with the
# paper's 384 test pipeline. See cvt13_classify_384.py for fine-tuning.
_base_ = [
    './_base_/models/cvt_cls.py', './_base_/datasets/imagenet_384.py',
    './_base_/schedules/adamw_300e_cvt21.py', './_base_/default_runtime.py'
]
model = dict(backbone=dict(arch='21'))
train_dataloader = dict(batch_size=32)
