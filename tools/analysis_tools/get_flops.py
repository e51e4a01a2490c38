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

The headline figure is the whole network as the paper counts it: every
token through every block, the attention products (QK^T and AV) included.
Beside it, "as run": what the model computes, which for a classifier is
less, since its last block computes only the class token (the lean
classification step); the two are equal for feature-map models.
"""
import argparse
import sys

import torch

from cvt_backbone.apis import build_model, model_config
from cvt_backbone.deploy.parts import part_module
from cvt_backbone.utils import count_macs, count_params


def build(model: str, num_classes: int) -> torch.nn.Module:
    """The model to count: a classifier whole, a detector or segmenter up
    to its neck (``extract_feat``), a bare backbone as it is."""
    built = build_model(model_config(model, num_classes))
    if built.__class__.__name__ in ('CvT', 'ImageClassifier'):
        return built
    return part_module(built, 'features')


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
    x = torch.zeros(1, 3, h, w)
    macs = count_macs(model, x, whole=True)
    total = macs.pop('total')
    as_run = count_macs(model, x)['total']
    params = count_params(model)
    print(f'model:  {args.model}, input 3x{h}x{w}')
    print(f'params: {format_number(params)} ({params:,})')
    print(f'FLOPs (whole network, the paper\'s count): '
          f'{format_number(total)} multiply-adds ({total:,})')
    lean = any(getattr(m, 'cls_only', False) for m in model.modules())
    if lean:
        note = (' (lean classification step: the last block computes only '
                'the class token)')
    elif as_run != total:
        note = (' (what reaches the outputs: the last class token of a '
                'feature-map model is read by nothing)')
    else:
        note = ' (the same)'
    print(f'FLOPs as run: {format_number(as_run)} multiply-adds '
          f'({as_run:,}){note}')
    print('whole network by op:')
    for kind, n in sorted(macs.items()):
        print(f'  {kind:<30} {format_number(n)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
