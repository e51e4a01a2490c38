# CvT-W24 at 384 (87.6 top-1 reported after ImageNet-22k pre-training):
# fine-tuning the published ImageNet-22k -> 1k CvT-W24 further at 384 (e.g.
# on your own data), as cvt13_classify_384.py, with CvT-W24's weight decay
# 0.1 and drop path [0, 0, 0.3].
_base_ = [
    './_base_/models/cvt-w24.py', './_base_/datasets/imagenet_384.py',
    './_base_/schedules/cvt_finetune_30e.py', './_base_/default_runtime.py'
]
load_from = 'cvt-w24-384-22k'  # the published model, by zoo name
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
train_dataloader = dict(batch_size=16)
