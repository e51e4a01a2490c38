# CvT-13 ImageNet classifier as an mmpretrain ImageClassifier: the CvT
# backbone returns the class token after the published final LayerNorm
# (out_type='cls_token'), mmpretrain's LinearClsHead is the published Linear,
# so the published weights load key for key (19,997,480 parameters with
# 1,000 classes). Training as in the paper (timm's semantics): Mixup 0.8 or
# CutMix 1.0 on every batch, chosen with probability 0.5 each, and label
# smoothing 0.1 folded into the (mixed) soft targets. The backbone's last
# block computes only the class token and leaves its unused query projection
# out of training, so DDP runs with find_unused_parameters=False (mmengine's
# default).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CvT', arch='13', out_type='cls_token'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original'),
        # the paper's head init: trunc-normal(0.02) weight
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))
