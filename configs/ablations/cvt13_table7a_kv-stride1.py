# CvT paper, Table 7 row (a): CvT-13 with key/value stride 1 in every
# convolutional projection (top-1 82.3 in the paper, 6.55 G FLOPs): k and v
# keep every token, T_kv = H*W (+1 class token in stage 3).
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(kv_stride=1))
