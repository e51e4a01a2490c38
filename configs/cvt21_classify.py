# CvT-21 on ImageNet-1k at 224 (82.5 top-1 reported): the CvT-13 recipe with
# weight decay 0.1 and lr 1.25e-4 per 128 images/GPU.
_base_ = [
    './_base_/models/cvt_cls.py', './_base_/datasets/imagenet_224.py',
    './_base_/schedules/adamw_300e_cvt21.py', './_base_/default_runtime.py'
]
model = dict(backbone=dict(arch='21'))
train_dataloader = dict(batch_size=128)
