# CvT paper, Table 6 row (a): CvT-13 without the convolutional token
# embedding and without position embedding (top-1 80.7 in the paper).
# The paper does not give the non-overlapping embedding's patch size. Chosen
# here: kernel = stride = the stage's stride (4, 2, 2), no padding, so the
# token grids (56/28/14 at 224), and everything after the embedding, stay
# those of CvT-13 and the rows differ only in the embedding; its parameter
# count (19.55 M) matches the paper's 19.5 M for this row, which a larger
# patch would not.
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(patch_embed='patch', pos_embed=False))
