# CvT paper, Table 8 row (d): the convolutional projection in every stage
# (top-1 81.6 in the paper): the released CvT-13.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(qkv_proj='conv'))
