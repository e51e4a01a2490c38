# CvT paper, Table 8 row (c): the convolutional projection in stages 1-2,
# the position-wise linear projection in stage 3 (top-1 81.0 in the paper).
# See cvt13_table8a_linear-proj.py for the linear projection.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(qkv_proj=['conv', 'conv', 'linear']))
