"""Parameters and multiply-adds of a CvT, attention matmuls included.

    python tools/analysis_tools/get_flops.py 13 --shape 224 224
    python tools/analysis_tools/get_flops.py w24 --shape 384 384
    python tools/analysis_tools/get_flops.py CONFIG.py --shape 800 1333

ARCH is ``13``, ``21``, ``w24`` (``cvt-13`` style too), counted as the
paper's classifier (backbone + a 1000-class head; ``--num-classes 0`` for the
backbone's feature maps alone). A ``.py`` argument is an mmpretrain, mmdet
or mmseg config: a classifier is counted whole, a detector or segmenter up
to its neck (``extract_feat``). One multiply-add counts as one FLOP, like the
paper's GFLOPs (mmengine's FlopAnalyzer, see cvt_backbone.utils.flops).
"""
import argparse
import sys

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import cvt_backbone  # noqa: F401  (registers CvT)
from cvt_backbone.models import CvT
from cvt_backbone.utils import count_macs, count_params


class _Features(torch.nn.Module):
    """``model.extract_feat`` as the module to count."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.extract_feat(x)


def build(model: str, num_classes: int) -> torch.nn.Module:
    if model.endswith('.py'):
        cfg = Config.fromfile(model)
        init_default_scope(cfg.get('default_scope') or 'mmpretrain')
        built = MODELS.build(cfg.model)
        return built if cfg.model.type == 'ImageClassifier' else \
            _Features(built)
    if not num_classes:
        return CvT(model)
    init_default_scope('mmpretrain')
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='CvT', arch=model, out_type='cls_token'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=CvT.resolve_arch(model)['embed_dims'][-1])))


def format_number(n: float) -> str:
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.2f} {suffix}'
    return f'{n:.0f}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('model', help='arch name (13, 21, w24) or config .py')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input H W (one value: square)')
    parser.add_argument('--num-classes', type=int, default=1000,
                        help='classifier head size for an arch name '
                        '(0: backbone only)')
    args = parser.parse_args(argv)
    if len(args.shape) == 1:
        args.shape = args.shape * 2
    if len(args.shape) != 2:
        parser.error('--shape takes H W')
    try:
        model = build(args.model, args.num_classes)
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    h, w = args.shape
    macs = count_macs(model, torch.zeros(1, 3, h, w))
    total = macs.pop('total')
    params = count_params(model)
    print(f'model:  {args.model}, input 3x{h}x{w}')
    print(f'params: {format_number(params)} ({params:,})')
    print(f'FLOPs:  {format_number(total)} multiply-adds ({total:,})')
    for kind, n in sorted(macs.items()):
        print(f'  {kind:<30} {format_number(n)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
