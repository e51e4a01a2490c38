# CvT classifier (CvT-13 by default; configs set backbone.arch) with the paper's head (final LayerNorm on the class token,
# then Linear) and batch augmentations: random erasing 0.25 (pixel mode),
# Mixup 0.8 / CutMix 1.0 (switch prob 0.5), label smoothing 0.1, trained with
# soft-target cross-entropy.
num_classes = 1000
model = dict(
    type='CvTClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, num_classes=num_classes,
        mixup_alpha=0.8, cutmix_alpha=1.0, mix_prob=1.0, switch_prob=0.5,
        erasing_prob=0.25),
    backbone=dict(type='CvT', arch='13', out_type='cls_token'),
    head=dict(type='CvTClsHead', num_classes=num_classes, in_channels=384,
              label_smoothing=0.1))
# The last block's patch-token query projection does not reach the class
# token, so multi-process (DDP) training must allow unused parameters.
find_unused_parameters = True
