# CvT-W24 for the transfer study: ./cvt-13_transfer.py with CvT-W24 (drop
# path [0, 0, 0.3], the arch's default) and its published ImageNet-22k
# model (cvt-w24-384-22k). 277M parameters at 384: if 64 images per GPU do
# not fit, set model.backbone.with_cp=True or a smaller batch with
# accumulative_counts (see ../schedules/cvt_transfer_10k.py).
_base_ = './cvt-13_transfer.py'

model = dict(
    backbone=dict(arch='w24', init_cfg=dict(checkpoint='cvt-w24-384-22k')),
    head=dict(in_channels=1024))
