# UperNet with CvT-21, ADE20K 512x512, 160k. See
# upernet_cvt13_512x512_160k_ade20k.py for the heads, BatchNorm choice and
# optimiser.
_base_ = './upernet_cvt13_512x512_160k_ade20k.py'

model = dict(
    backbone=dict(arch='21', drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='cvt-21')))
