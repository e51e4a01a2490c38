# Mask R-CNN + FPN with CvT-13, COCO, 3x schedule (36 epochs) with
# multi-scale training (shorter side 640-800, mmdet's ms-poly 3x recipe; it
# repeats the dataset 3 times per "epoch", so the schedule counts 12 of
# them). Model, BatchNorm choice and optimiser as in the 1x config.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_ms-poly-3x_coco.py',
]
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmdet'

pretrained = 'checkpoints/cvt-13_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True, type='CvT', arch='13', out_indices=(0, 1, 2),
        out_norm=True, drop_path_rate=0.2,
        # frozen ImageNet BatchNorm statistics (norm_eval) rather than SyncBN:
        # see mask-rcnn_cvt13_fpn_1x_coco.py
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='FPN', in_channels=[64, 192, 384], out_channels=256,
              add_extra_convs='on_input', num_outs=5),
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 32]),
        mask_roi_extractor=dict(featmap_strides=[4, 8, 16, 32])))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'cls_token': dict(decay_mult=0.)}))
