# CvT paper, Table 6 row (d): the convolutional token embedding without
# position embedding (top-1 81.6 in the paper): the released CvT-13.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(patch_embed='conv', pos_embed=False))
