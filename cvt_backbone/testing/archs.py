"""Tiny CvT layouts (``arch`` dicts for ``CvT``, ``make_hf_cvt`` and the
configs' ``model.backbone.arch``), so that tests build and run models in
milliseconds with CvT's real structure: three stages, the class token in the
last one, more than one block where it matters."""

# numerical equivalence with transformers' CvT, state-dict conversion: two
# blocks in the last stage, so block indices are renumbered
TINY_ARCH = dict(embed_dims=[16, 32, 64], depths=[1, 1, 2],
                 num_heads=[1, 2, 2])

# what the tests shrink the dense (mmdet/mmseg) configs and the ONNX export
# models to: one block per stage
TINY_DENSE_ARCH = dict(embed_dims=[16, 32, 48], depths=[1, 1, 1],
                       num_heads=[1, 2, 2])

# a classifier that learns the synthetic set in a few CPU epochs (the short
# training runs through tools/train.py and mmengine's Runner)
TINY_CLS_ARCH = dict(embed_dims=[32, 64, 96], depths=[1, 1, 2],
                     num_heads=[1, 2, 2])
