# Fine-tuning data at 384 for the transfer study (the paper's Table 4): the
# ImageNet 384 pipelines of ./imagenet_384.py without RandAugment and random
# erasing. The paper states only the resolution (384), SGD, momentum 0.9,
# batch 512 and the step counts; its protocol is ViT's (the same step counts:
# ViT, Dosovitskiy et al. 2021, Appendix B.1.1; google-research/
# vision_transformer vit_jax/configs/common.py), whose fine-tuning uses an
# Inception-style random resized crop and a horizontal flip only, and tests
# on the image resized to 384 x 384. Chosen here: the same, i.e. our
# DecodeRandomResizedCrop (RandomResizedCrop semantics, scale 0.08-1,
# bicubic) at 384 and a flip for training; the paper's 384 test pipeline
# (resize to 384 x 384, bicubic, no crop). No Mixup/CutMix (see
# ../models/cvt-13_transfer.py).
# Batch: 64 per GPU, so 8 GPUs give the paper's 512 (with fewer GPUs, keep
# 512 with optim_wrapper.accumulative_counts or scale the lr with
# --auto-scale-lr; see ../schedules/cvt_transfer_10k.py).
# The dataset-specific bases (cifar10_384.py, cifar100_384.py, pets_384.py,
# flowers102_384.py) set mmpretrain's dataset and the number of classes.
_base_ = './imagenet_384.py'

train_pipeline = [
    t for t in _base_.train_pipeline
    if t['type'] not in ('FastRandAugment', 'FastRandomErasing')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
