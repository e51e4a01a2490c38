# CvT paper, Table 6 row (b): non-overlapping patch embedding with a learned
# position embedding in every stage (top-1 81.1 in the paper). Patch
# embedding as in row (a) (cvt13_table6a_patch-embed_no-pos.py), position
# embedding as in Table 5 row (c) (cvt13_table5c_pos-every-stage.py).
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(patch_embed='patch', pos_embed=True,
                           img_size=224))
