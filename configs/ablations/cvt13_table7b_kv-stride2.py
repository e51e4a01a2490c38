# CvT paper, Table 7 row (b): key/value stride 2 (top-1 81.6 in the paper,
# 4.53 G FLOPs): the released CvT-13, T_kv = ceil(H/2)*ceil(W/2) (+1).
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(kv_stride=2))
