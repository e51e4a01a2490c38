# CvT-21 on ImageNet-1k at 224 (82.5 top-1 reported): the CvT-13 recipe with
# the CvT-21 optimisation (weight decay 0.1, lr 1e-3 at batch 1024).
_base_ = [
    './_base_/models/cvt-21.py', './_base_/datasets/imagenet_224.py',
    './_base_/schedules/cvt21_adamw_300e.py', './_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=128)
