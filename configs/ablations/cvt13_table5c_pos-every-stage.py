# CvT paper, Table 5 row (c): CvT-13 with a learned absolute position
# embedding added to the patch tokens of every stage (top-1 81.5 in the
# paper, against 81.6 without: row f). The CvT-13 ImageNet-1k recipe of
# cvt13_classify.py, only the backbone changed. Choices the paper leaves
# open: the embedding is added after the token embedding's LayerNorm, to the
# patch tokens only (the stage-3 class token is itself learned), initialised
# trunc-normal(0.02) and sized for the 224 training grid (56/28/14), resized
# bicubically for other input sizes (DeiT/timm); no weight decay on it (the
# release's no_weight_decay lists pos_embed).
_base_ = '../cvt13_classify.py'
model = dict(backbone=dict(pos_embed=True, img_size=224))
