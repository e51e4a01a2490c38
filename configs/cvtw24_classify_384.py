# CvT-W24 at 384 (87.6 top-1 reported after ImageNet-22k pre-training): the
# CvT-21 optimisation (weight decay 0.1, lr 1.25e-4 per 128 images/GPU) with
# the W24 arch and its drop path [0, 0, 0.3]. For the 22k -> 1k fine-tune,
# start from a 22k model with load_from.
_base_ = ['./cvt21_classify_384.py']
model = dict(backbone=dict(arch='w24'), head=dict(in_channels=1024))
train_dataloader = dict(batch_size=16)
