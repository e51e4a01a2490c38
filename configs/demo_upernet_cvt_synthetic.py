# The embedded dense-prediction demo, segmentation half
# (tools/demo_dense.py): upernet_cvt13_512x512_160k_ade20k.py scaled to a few
# minutes on the CPU, on the generated ADE-style semantic set (the same
# scenes as the COCO set: 128x128 images, PNG label maps with 0 = background
# and 1-6 the shape classes; cvt_backbone.synthetic.generate_segmentation
# writes it to data/synthetic_ade). Changed from the parent: a small CvT
# (CvT-13's layout, widths 32/96/192, depths 1/1/2) trained from scratch
# with a higher lr (no pretrained weights to protect), narrower heads,
# plain BN (single process), background kept as a class
# (reduce_zero_label=False).
_base_ = './upernet_cvt13_512x512_160k_ade20k.py'

data_root = 'data/synthetic_ade'
classes = ('background', 'circle', 'square', 'triangle', 'ring', 'stripes',
           'checker')
metainfo = dict(classes=classes,
                palette=[[0, 0, 0], [220, 20, 60], [0, 130, 255], [0, 180, 0],
                         [255, 170, 0], [160, 32, 240], [0, 200, 200]])
img_size = 128
cvt_arch = dict(embed_dims=[32, 96, 192], depths=[1, 1, 2],
                num_heads=[1, 2, 3])
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(img_size, img_size)),
    backbone=dict(arch=dict(_delete_=True, **cvt_arch), drop_path_rate=0.0,
                  norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(in_channels=cvt_arch['embed_dims'], channels=64,
                     num_classes=len(classes), norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=cvt_arch['embed_dims'][2], channels=32,
                        num_classes=len(classes), norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
               img_suffix='.png', seg_map_suffix='.png',
               reduce_zero_label=False)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **dataset,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, **dataset,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 900
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=30),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=30, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(draw=False))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/demo_upernet_cvt_synthetic'
