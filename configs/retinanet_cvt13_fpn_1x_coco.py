# RetinaNet + FPN with CvT-13, COCO 1x. Everything else is mmdet's R-50
# config.
#
# RetinaNet predicts on strides 8-128. CvT's stride-8 and stride-16 maps
# (stages 1 and 2, 192/384 channels) go into FPN, which adds three levels
# with stride-2 convs on the last backbone map ('on_input'): P3-P7 =
# strides 8, 16, 32, 64, 128, matching the anchor strides. Stage 0 is not
# returned (out_indices=(1, 2)), so no unused output norm is trained.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmdet'

pretrained = 'checkpoints/cvt-13_in1k.pth'  # any format the converter reads
model = dict(
    backbone=dict(
        _delete_=True, type='CvT', arch='13', out_indices=(1, 2),
        out_norm=True, drop_path_rate=0.1,
        # frozen ImageNet BatchNorm statistics (2 images/GPU) rather than
        # SyncBN: see
        # mask-rcnn_cvt13_fpn_1x_coco.py
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='FPN', in_channels=[192, 384], out_channels=256,
              start_level=0, add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(anchor_generator=dict(strides=[8, 16, 32, 64, 128])))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'cls_token': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
