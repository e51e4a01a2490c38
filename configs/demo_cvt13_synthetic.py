# The embedded demo (`make demo`): CvT-13 from scratch on the generated
# synthetic set (6 classes: circle, square, triangle, ring, stripes, checker,
# each drawn in its own hue band on a noisy gradient; 64x64, 1800 train /
# 300 val images written by tools/make_synthetic_data.py into data/synthetic), on
# the CPU. The paper's recipe scaled to a few minutes: AdamW with warm-up and
# cosine decay, label smoothing; light augmentation only (random crops and
# flips), since RandAugment, Mixup and CutMix need hundreds of epochs to pay
# off.
_base_ = ['./_base_/default_runtime.py']

data_root = 'data/synthetic'
num_classes = 6
img_size = 64
model = dict(
    type='CvTClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='CvT', arch='13', out_type='cls_token'),
    head=dict(type='CvTClsHead', num_classes=num_classes, in_channels=384,
              label_smoothing=0.1))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.6, 1.0),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='LoadImage'), dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageNetFolder', data_root=data_root,
                 data_prefix=dict(img_path='train'), classes='classes.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNetFolder', data_root=data_root,
                 data_prefix=dict(img_path='val'), classes='classes.txt',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_epochs = 8
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'cls_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, T_max=max_epochs - 1, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/demo_cvt13_synthetic'
# The last block's patch-token query projection does not reach the class
# token, so multi-process (DDP) training must allow unused parameters.
find_unused_parameters = True
