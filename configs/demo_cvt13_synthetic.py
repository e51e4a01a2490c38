# The embedded demo (`make demo`): CvT-13 from scratch on the generated
# synthetic set (6 classes: circle, square, triangle, ring, stripes, checker,
# each drawn in its own hue band on a noisy gradient; 64x64, 1800 train /
# 300 val images written by tools/misc/make_synthetic_data.py into
# data/synthetic, with meta/{train,val}.txt lists), on the CPU. The CvT-13
# classifier of cvt13_classify.py with the paper's recipe scaled to a few
# minutes: AdamW with warm-up and cosine decay, label smoothing; light
# augmentation only (random crops and flips), since RandAugment, Mixup and
# CutMix need hundreds of epochs to pay off.
_base_ = [
    './_base_/models/cvt-13.py', './_base_/schedules/cvt_adamw_300e.py',
    './_base_/default_runtime.py'
]

data_root = 'data/synthetic'
num_classes = 6
img_size = 64
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
model = dict(
    head=dict(num_classes=num_classes),
    train_cfg=dict(_delete_=True))  # no Mixup/CutMix

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.6, 1.),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# meta/{train,val}.txt give the labels; the names are those of classes.txt
classes = ('circle', 'square', 'triangle', 'ring', 'stripes', 'checker')
dataset = dict(type='ImageNet', data_root=data_root, classes=classes)
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_epochs = 8
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-3, end=1),
    dict(_base_.param_scheduler[1], begin=1),
]
train_cfg = dict(max_epochs=max_epochs)

default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(max_keep_ckpts=1))
randomness = dict(seed=0)
work_dir = 'work_dirs/demo_cvt13_synthetic'
