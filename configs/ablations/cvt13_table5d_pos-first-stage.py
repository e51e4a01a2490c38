# CvT paper, Table 5 row (d): CvT-13 with a learned position embedding in
# the first stage only (top-1 81.4 in the paper). As row (c)
# (cvt13_table5c_pos-every-stage.py) for the choices made, stage 1 only.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(pos_embed=[True, False, False], img_size=224))
