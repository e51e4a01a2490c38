# CvT paper, Table 8 row (a): the position-wise linear projection in every
# stage instead of the convolutional projection (top-1 80.6 in the paper).
# q, k and v are the Linear maps alone (no depthwise conv, no BatchNorm), so
# k and v come from every token: a position-wise map has no stride (the
# backbone refuses kv_stride != 1 with it), as in the original code's
# 'linear' method, whose keys/values are the tokens themselves.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(qkv_proj='linear'))
