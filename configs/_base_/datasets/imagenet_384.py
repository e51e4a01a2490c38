# ImageNet-1k at 384: the same training augmentation at 384, and the paper's
# 384 test pipeline: resize straight to 384 x 384 (bicubic), no centre crop.
_base_ = './imagenet_224.py'

img_size = 384
train_pipeline = [
    dict(t, scale=img_size) if t['type'] == 'DecodeRandomResizedCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
