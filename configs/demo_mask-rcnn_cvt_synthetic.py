# The embedded dense-prediction demo, detection half (tools/demo_dense.py):
# mask-rcnn_cvt13_fpn_1x_coco.py scaled to a few minutes on the CPU, on the
# generated COCO-format set (6 shape classes, 128x128 images, RLE masks;
# cvt_backbone.synthetic.generate_detection writes it to
# data/synthetic_coco). Changed from the parent: a small CvT (CvT-13's
# layout, widths 32/96/192, depths 1/1/2) trained from scratch, so its
# BatchNorm is trained (no ImageNet statistics to freeze) and the lr is
# higher with a short warm-up (no pretrained weights to protect); narrower
# FPN and heads; anchors one octave smaller (objects are 20-60 px).
_base_ = './mask-rcnn_cvt13_fpn_1x_coco.py'

data_root = 'data/synthetic_coco/'
classes = ('circle', 'square', 'triangle', 'ring', 'stripes', 'checker')
metainfo = dict(classes=classes,
                palette=[(220, 20, 60), (0, 130, 255), (0, 180, 0),
                         (255, 170, 0), (160, 32, 240), (0, 200, 200)])
img_size = 128
ch = 64  # FPN / head width (256 in the COCO configs)
cvt_arch = dict(embed_dims=[32, 96, 192], depths=[1, 1, 2],
                num_heads=[1, 2, 3])
model = dict(
    backbone=dict(arch=dict(_delete_=True, **cvt_arch), drop_path_rate=0.0,
                  norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, init_cfg=None),
    neck=dict(in_channels=cvt_arch['embed_dims'], out_channels=ch),
    rpn_head=dict(in_channels=ch, feat_channels=ch,
                  anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=ch),
        bbox_head=dict(in_channels=ch, fc_out_channels=256,
                       num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=ch),
        mask_head=dict(in_channels=ch, conv_out_channels=ch,
                       num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100),
                  rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    batch_sampler=None,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=0),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=1e-3),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0,
         end=max_epochs, T_max=max_epochs, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/demo_mask-rcnn_cvt_synthetic'
