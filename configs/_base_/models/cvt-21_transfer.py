# CvT-21 for the transfer study: ./cvt-13_transfer.py with CvT-21 and its
# published ImageNet-22k model (cvt-21-384-22k).
_base_ = './cvt-13_transfer.py'

model = dict(backbone=dict(
    arch='21', init_cfg=dict(checkpoint='cvt-21-384-22k')))
