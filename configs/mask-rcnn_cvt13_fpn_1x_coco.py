# Mask R-CNN + FPN with a CvT-13 backbone, COCO, 1x schedule (12 epochs,
# 8 GPUs x 2 images). Everything else is mmdet's own R-50 config.
#
#   python tools/train.py configs/mask-rcnn_cvt13_fpn_1x_coco.py
#   (or mmdet's tools/train.py with PYTHONPATH including this repository)
#
# CvT has three stages, strides 4/8/16 (64/192/384 channels for CvT-13/21,
# 192/768/1024 for W24) and no stride-32 stage. FPN takes all three and
# adds two levels with stride-2 convs on the last backbone map
# ('on_input'), giving P2-P6 = strides 4, 8, 16, 32, 64: the RPN anchor
# strides [4, 8, 16, 32, 64] and the RoI extractors' [4, 8, 16, 32] of the
# base config match. P5 is a learned conv rather than a max-pool, since
# the RoI heads read it.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmdet'

# An ImageNet CvT checkpoint in any format the converter reads: the original
# release (CvT-13-224x224-IN-1k.pth), a Hugging Face microsoft/cvt-13 file or
# folder, or one of this project's classifier checkpoints
# (tools/convert_weights.py writes one).
pretrained = 'checkpoints/cvt-13_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='CvT',
        arch='13',
        out_indices=(0, 1, 2),
        out_norm=True,  # LayerNorm per output map (new parameters)
        drop_path_rate=0.1,
        # Projection BatchNorm: frozen ImageNet statistics (norm_eval) rather
        # than SyncBN. At 2 images/GPU the batch statistics of a detection
        # batch are noisy and far from the classification ones; freezing
        # them keeps the pretrained behaviour, makes training and inference
        # identical and works the same on 1 GPU, 8 GPUs or the CPU (SyncBN
        # needs a process group). The affine parameters still train. For
        # large per-GPU batches, norm_cfg=dict(type='SyncBN') with
        # norm_eval=False is the alternative.
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        frozen_stages=-1,
        with_cp=False,  # True trades compute for memory at 800x1333
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        type='FPN',
        in_channels=[64, 192, 384],
        out_channels=256,
        add_extra_convs='on_input',
        num_outs=5),
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32]),
        mask_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])))

# Transformer-backbone optimiser: AdamW, lr 1e-4, weight decay 0.05, none on
# norms (LayerNorm and BatchNorm), biases and the class token.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'cls_token': dict(decay_mult=0.)}))
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
