# ImageNet-1k at 224 with the original CvT training augmentation. The release
# called timm 0.3.2's create_transform(224, is_training=True,
# auto_augment='rand-m9-mstd0.5-inc1', color_jitter=0.4, re_prob=0.25,
# interpolation='bicubic'), and timm applies no colour jitter when an
# auto-augment policy is given: RandomResizedCrop (0.08-1, bicubic), flip,
# RandAugment with timm's increasing ops (2 ops, magnitude 9, std 0.5),
# random erasing 0.25 with per-pixel noise. mmpretrain's Swin/DeiT ImageNet
# pipeline is exactly that; here each of its steps runs as this project's
# faster transform of the same semantics and arguments (cvt_backbone/
# datasets/transforms): LoadImageFromFile + RandomResizedCrop ->
# DecodeRandomResizedCrop (crop box drawn before decoding, large JPEGs
# decoded at reduced scale, uint8 resize), RandAugment -> FastRandAugment
# (lookup tables on uint8), RandomErasing -> FastRandomErasing, PackInputs ->
# FastPackInputs. Test: resize the short side to 256, centre crop 224
# (bicubic).
# Data in data/imagenet/{train,val}/<class>/*.JPEG, or meta/{train,val}.txt
# lists beside them.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

fast_transforms = dict(
    RandomResizedCrop='DecodeRandomResizedCrop',
    RandAugment='FastRandAugment',
    RandomErasing='FastRandomErasing',
    PackInputs='FastPackInputs')
train_pipeline = [
    dict(t, type=fast_transforms.get(t['type'], t['type']))
    for t in _base_.train_pipeline if t['type'] != 'LoadImageFromFile'
]
train_dataloader = dict(
    batch_size=256,  # per GPU; 8 GPUs give the paper's 2048
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=8, persistent_workers=True, pin_memory=True)
test_dataloader = val_dataloader
