# Oxford-IIIT Pets (mmpretrain's OxfordIIITPet: data/Oxford-IIIT_Pets/
# annotations/{trainval,test}.txt and images/*.jpg; 37 breeds) for the
# transfer study at 384: trained on trainval (3,680 images), tested on test
# (3,669), as ViT and BiT do.
_base_ = './transfer_384.py'

data_preprocessor = dict(num_classes=37)
train_dataloader = dict(
    dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets',
                 split='trainval'))
val_dataloader = dict(
    dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets',
                 split='test'))
test_dataloader = val_dataloader
