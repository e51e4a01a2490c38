"""Parameters and multiply-adds of a CvT, attention matmuls included.

    python tools/get_flops.py 13 --shape 224 224
    python tools/get_flops.py w24 --shape 384 384
    python tools/get_flops.py configs/some_config.py --shape 800 1333

ARCH is ``13``, ``21``, ``w24`` (``cvt-13`` style too), counted as the
paper's classifier (backbone + a 1000-class head; ``--num-classes 0`` for the
backbone alone). A ``.py`` argument is an mmengine config whose ``model`` is
built (its backbone and CvTClsHead). One multiply-add counts as one FLOP,
like the paper's GFLOPs.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cvt_backbone.flops import format_number, get_flops  # noqa


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
        r = get_flops(args.model, tuple(args.shape), args.num_classes)
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    h, w = args.shape
    print(f'model:  {args.model}, input 3x{h}x{w}')
    print(f'params: {format_number(r["params"])} ({r["params"]:,})')
    print(f'FLOPs:  {format_number(r["macs"])} multiply-adds '
          f'({r["macs"]:,})')
    for kind, n in sorted(r['macs_by_kind'].items()):
        print(f'  {kind:<10} {format_number(n)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
