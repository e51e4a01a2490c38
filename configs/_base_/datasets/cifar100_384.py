# CIFAR-100 (mmpretrain's CIFAR100: data/cifar100/cifar-100-python/, 100
# fine labels) for the transfer study at 384, as ./cifar10_384.py.
_base_ = './cifar10_384.py'

data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type='CIFAR100',
                                     data_root='data/cifar100'))
val_dataloader = dict(dataset=dict(type='CIFAR100',
                                   data_root='data/cifar100'))
test_dataloader = val_dataloader
