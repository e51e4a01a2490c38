# CvT-W24 ImageNet classifier: widths 192/768/1024, 2/2/20 blocks, drop path
# [0, 0, 0.3] (the arch's default).
_base_ = './cvt-13.py'

model = dict(backbone=dict(arch='w24'), head=dict(in_channels=1024))
