# CvT-13 from its published ImageNet-22k model, fine-tuned at 384 on
# CIFAR-10 for 10,000 SGD steps at batch 512: the paper's Table 4 (the
# recipe and its choices: the three bases).
_base_ = [
    '../_base_/models/cvt-13_transfer.py',
    '../_base_/datasets/cifar10_384.py',
    '../_base_/schedules/cvt_transfer_10k.py',
]
model = dict(head=dict(num_classes=10))
