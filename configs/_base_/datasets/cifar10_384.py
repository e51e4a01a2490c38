# CIFAR-10 (mmpretrain's CIFAR10: data/cifar10/cifar-10-batches-py/, the
# pickled python batches; downloaded by mmpretrain when missing) for the
# transfer study at 384: the 32 x 32 images are resized to 384 by the
# crop / test resize of ./transfer_384.py. mmpretrain's CIFAR datasets hold
# the decoded images in memory, so there is no file to load: the crop is
# mmpretrain's RandomResizedCrop (same arguments as DecodeRandomResizedCrop)
# and the test pipeline starts at the resize. Their images are RGB (not
# BGR as LoadImageFromFile gives), hence to_rgb=False with the same ImageNet
# mean/std the published models were trained with.
_base_ = './transfer_384.py'

data_preprocessor = dict(num_classes=10, to_rgb=False)
train_pipeline = [
    dict(t, type='RandomResizedCrop')
    if t['type'] == 'DecodeRandomResizedCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    t for t in _base_.test_pipeline if t['type'] != 'LoadImageFromFile'
]
train_dataloader = dict(
    dataset=dict(type='CIFAR10', data_root='data/cifar10', split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type='CIFAR10', data_root='data/cifar10', split='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
