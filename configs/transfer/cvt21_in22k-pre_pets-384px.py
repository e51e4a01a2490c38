# CvT-21 from its published ImageNet-22k model, fine-tuned at 384 on
# Oxford-IIIT Pets for 500 SGD steps at batch 512: the paper's Table 4 (the
# recipe and its choices: the three bases).
_base_ = [
    '../_base_/models/cvt-21_transfer.py',
    '../_base_/datasets/pets_384.py',
    '../_base_/schedules/cvt_transfer_500.py',
]
model = dict(head=dict(num_classes=37))
