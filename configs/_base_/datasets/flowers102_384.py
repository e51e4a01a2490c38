# Oxford Flowers-102 (mmpretrain's Flowers102: data/Flowers102/
# imagelabels.mat, setid.mat and jpg/image_*.jpg) for the transfer study at
# 384: trained on train + val (2,040 images), tested on test (6,149), as
# ViT and BiT do.
_base_ = './transfer_384.py'

data_preprocessor = dict(num_classes=102)
train_dataloader = dict(
    dataset=dict(type='Flowers102', data_root='data/Flowers102',
                 split='trainval'))
val_dataloader = dict(
    dataset=dict(type='Flowers102', data_root='data/Flowers102',
                 split='test'))
test_dataloader = val_dataloader
