"""Export a CvT classifier, segmenter, backbone or detector feature pyramid
to ONNX, then check it with onnx.checker and against torch in onnxruntime.

    python tools/deploy/export_onnx.py cvt-13 --out work_dirs/cvt13.onnx
    python tools/deploy/export_onnx.py configs/cvt13_classify.py \\
        work_dirs/cvt13_classify/epoch_300.pth --out work_dirs/cvt13.onnx
    python tools/deploy/export_onnx.py \\
        configs/upernet_cvt13_512x512_160k_ade20k.py CKPT \\
        --out work_dirs/upernet_cvt13.onnx --shape 512 512
    python tools/deploy/export_onnx.py \\
        configs/mask-rcnn_cvt13_fpn_1x_coco.py CKPT \\
        --out work_dirs/mask-rcnn_cvt13_fpn.onnx --part features

MODEL is a config file or a model-zoo name (the published classifier, with
its published weights unless CHECKPOINT is given); CHECKPOINT is any
checkpoint source (file, URL, Hugging Face repo, zoo name).

Exit status: 0 when onnxruntime matches torch within --tolerance, 1 when it
does not, 2 for a request that cannot be exported (the message says why).
The export itself is cvt_backbone.deploy.export_onnx.
"""
import argparse
import os
import sys

from cvt_backbone import deploy
from cvt_backbone.apis import resolve_config
from cvt_backbone.checkpoint import CheckpointError, find_model, list_models


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Export a CvT model to ONNX (dynamic batch, height '
        'and width) and check it in onnxruntime against torch.')
    p.add_argument('config', metavar='MODEL',
                   help='mmpretrain/mmseg/mmdet config file, or a model-zoo '
                   f'name ({", ".join(list_models())})')
    p.add_argument('checkpoint', nargs='?', metavar='CHECKPOINT',
                   help='the weights (file, URL, Hugging Face repo, zoo '
                   'name); optional for a zoo name (its published weights)')
    p.add_argument('--out', required=True, help='the .onnx file to write')
    p.add_argument('--part', default='auto', choices=('auto', ) +
                   deploy.PARTS,
                   help='auto: the whole classifier or segmenter; '
                   'backbone: the CvT stage maps; features: a detector\'s '
                   'backbone + neck')
    p.add_argument('--shape', nargs=2, type=int, default=None,
                   metavar=('H', 'W'),
                   help='size of the example input the graph is traced '
                   'with (it then runs at any size); default: a zoo '
                   'model\'s resolution, else 224 224')
    p.add_argument('--opset', type=int, default=deploy.DEFAULT_OPSET,
                   help=f'ONNX opset, {deploy.MIN_OPSET}-{deploy.MAX_OPSET} '
                   f'(default {deploy.DEFAULT_OPSET})')
    p.add_argument('--bake-normalization', action='store_true',
                   help='the graph takes raw pixels and applies the '
                   'config\'s mean/std (and channel flip) itself')
    p.add_argument('--check-shape', nargs=2, type=int, action='append',
                   metavar=('H', 'W'),
                   help='input size(s) to compare onnxruntime with torch '
                   'on (batch 1; default: the export size + (37, 19))')
    p.add_argument('--tolerance', type=float,
                   default=deploy.DEFAULT_TOLERANCE,
                   help='largest max abs difference accepted')
    p.add_argument('--attention', default='full',
                   choices=('chunked', 'full'),
                   help='full (default, as before): the whole T x T matrix '
                   '(MatMul/Softmax or Attention); chunked: attention over '
                   'query chunks in an ONNX Scan, never the full matrix, '
                   'for large sizes (not yet benchmarked)')
    p.add_argument('--no-check', action='store_true',
                   help='skip the onnxruntime comparison')
    return p.parse_args(argv)


def report(result, config: str) -> None:
    size = os.path.getsize(result.path) / 2**20
    print(f'exported the {result.part} of {config} to {result.path} '
          f'(opset {result.opset}, {size:.1f} MiB); onnx.checker: ok')
    for name, dims in result.io_shapes.items():
        kind = 'input ' if name == result.input_name else 'output'
        print(f'  {kind} {name}: [{", ".join(map(str, dims))}]')
    if result.tolerance is None:
        return
    print(f'onnxruntime vs torch (tolerance {result.tolerance:g}):')
    for check in result.checks:
        outs = ', '.join(f'{k} {v:.2e}' for k, v in
                         check['per_output'].items())
        shape = 'x'.join(map(str, check['shape']))
        print(f'  input {shape}: max abs diff {check["max_abs_diff"]:.2e} '
              f'({outs})')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:  # a config file or a zoo name, told apart by the library
        _, _, published = resolve_config(args.config)
    except FileNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.checkpoint is None and published is None:
        print(f'error: {args.config} is not a model-zoo name, so it needs '
              'a CHECKPOINT (the weights trained with that config)',
              file=sys.stderr)
        return 2
    if args.shape is None:
        args.shape = ((find_model(published).resolution, ) * 2
                      if published else (224, 224))
    shapes = ([(1, 3, h, w) for h, w in args.check_shape]
              if args.check_shape else None)
    try:
        result = deploy.export_config(
            args.config, args.checkpoint, args.out, part=args.part,
            input_size=tuple(args.shape), opset=args.opset,
            bake_normalization=args.bake_normalization,
            check_shapes=shapes, attention=args.attention,
            tolerance=None if args.no_check else args.tolerance)
    except deploy.OnnxMismatchError as e:
        print(f'FAILED: {e}', file=sys.stderr)
        return 1
    except (ValueError, CheckpointError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    report(result, args.config if args.checkpoint is None
           else f'{args.config} ({args.checkpoint})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
