# CvT paper, Table 6 row (c): the convolutional token embedding with a
# learned position embedding in every stage (top-1 81.4 in the paper; Table
# 5's row (c) with the same design reports 81.5). The same model as
# cvt13_table5c_pos-every-stage.py (see it for the choices made).
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(patch_embed='conv', pos_embed=True,
                           img_size=224))
