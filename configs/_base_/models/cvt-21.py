# CvT-21 ImageNet classifier: CvT-13's widths, deeper (1/4/16 blocks).
_base_ = './cvt-13.py'

model = dict(backbone=dict(arch='21'))
