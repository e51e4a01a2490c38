# ImageNet-1k at 224 with the paper's augmentation (timm create_transform as
# called by microsoft/CvT): RandomResizedCrop(0.08-1, bicubic), flip,
# RandAugment rand-m9-mstd0.5-inc1, colour jitter 0.4; random erasing 0.25 and
# Mixup/CutMix are batch-level, in the model's data preprocessor.
# Note: timm skips colour jitter whenever RandAugment is on; it is kept here
# because the recipe lists it. Remove the ColorJitter line to match timm.
dataset_type = 'ImageNetFolder'
data_root = 'data/imagenet'
img_size = 224

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.08, 1.0),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', num_ops=2, magnitude=9, magnitude_std=0.5),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackClsInputs'),
]
# resize the short side to 256 (mmcv keeps the ratio so that the short side
# fits 256 and the long side 100000), then the centre 224 x 224
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', scale=(100000, 256), keep_ratio=True,
         interpolation='bicubic', backend='pillow'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackClsInputs'),
]

train_dataloader = dict(
    batch_size=256,  # per GPU; 8 GPUs give the paper's 2048
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='val'), pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
