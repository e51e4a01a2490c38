# CvT paper, Table 8 row (b): the convolutional projection in stage 1 only,
# the position-wise linear projection in stages 2-3 (top-1 80.8 in the
# paper). See cvt13_table8a_linear-proj.py for the linear projection.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(qkv_proj=['conv', 'linear', 'linear']))
