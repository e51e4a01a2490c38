"""Convert published CvT weights to this project's layout.

    python tools/model_converters/convert_weights.py SRC DST

SRC: any checkpoint source: an original release file
(``CvT-13-224x224-IN-1k.pth``), a Hugging Face ``.bin``/``.safetensors`` file
or model folder, an http(s) URL, a Hugging Face repo id (``microsoft/cvt-13``,
``hf://org/name@rev``), a model-zoo name (``cvt-13``...) or one of this
project's checkpoints. The format is detected. DST holds the keys of an
mmpretrain ImageClassifier with the CvT backbone and a LinearClsHead: it is
``load_from`` for the classification configs and, through
``init_cfg=dict(type='Pretrained', checkpoint=DST)``, for any CvT backbone.
"""
import argparse
import sys

from cvt_backbone.checkpoint import CheckpointError, convert_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='checkpoint file, HF model folder, URL, '
                        'HF repo id or model-zoo name')
    parser.add_argument('dst', help='output .pth path')
    args = parser.parse_args(argv)
    try:
        fmt, state_dict = convert_checkpoint(args.src, args.dst)
    except (CheckpointError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    n_backbone = sum(k.startswith('backbone.') for k in state_dict)
    print(f'{args.src}: {fmt} format, {len(state_dict)} tensors '
          f'({n_backbone} backbone) -> {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
