"""Predict on one image (any size) with a classifier, detector or segmenter.

    python tools/infer.py MODEL IMAGE [--topk 5]
    python tools/infer.py CONFIG CHECKPOINT IMAGE [--out FILE]
                          [--score-thr 0.3] [--topk 5] [--device cpu]

MODEL is a published classifier by model-zoo name (``cvt-13``,
``cvt-21-384-22k``...): its weights are downloaded once, the image gets the
published preprocessing (resize 256 / centre crop 224, or 384 x 384 for the
384 models; ImageNet mean and std) and the top-k ImageNet classes are
printed with their probabilities. With CONFIG and CHECKPOINT (any checkpoint
source: file, URL, Hugging Face repo, zoo name), an mmpretrain config prints
the top-k classes the same way; mmdet configs draw boxes, masks and labels,
mmseg configs the segmentation overlay, to --out (default IMAGE with the
suffix ``_pred.png``).
"""
import argparse
import sys

from cvt_backbone.apis import (
    classify,
    get_model,
    init_model,
    predict_and_draw,
    summarise,
)
from cvt_backbone.checkpoint import find_model, list_models


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('inputs', nargs='+', metavar='MODEL|CONFIG CHECKPOINT',
                   help='MODEL IMAGE, or CONFIG CHECKPOINT IMAGE')
    p.add_argument('--out', help='output image for detection/segmentation '
                   '(default IMAGE_pred.png)')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='detections below this score are not drawn')
    p.add_argument('--topk', type=int, default=5,
                   help='classes printed for a classifier')
    p.add_argument('--device', default='cpu')
    args = p.parse_args(argv)
    if len(args.inputs) == 2:
        name, image = args.inputs
        if find_model(name) is None:
            p.error(f'{name!r} is not a model-zoo name ({list_models()}); '
                    'give CONFIG CHECKPOINT IMAGE for other models')
        model = get_model(name, pretrained=True, device=args.device)
        print_top(classify(model, image, args.topk), image, name)
        return 0
    if len(args.inputs) != 3:
        p.error('expected MODEL IMAGE or CONFIG CHECKPOINT IMAGE')
    config, checkpoint, image = args.inputs
    model, task = init_model(config, checkpoint, args.device)
    if task == 'cls':
        print_top(classify(model, image, args.topk), image, checkpoint)
        return 0
    result, out = predict_and_draw(model, task, image, args.out,
                                   args.score_thr)
    print(f'{summarise(task, result, args.score_thr)}; drawn to {out}')
    return 0


def print_top(top, image: str, model: str) -> None:
    print(f'{image} ({model}):')
    for rank, (name, prob) in enumerate(top, 1):
        print(f'  {rank}. {name:<40} {prob:.4f}')


if __name__ == '__main__':
    sys.exit(main())
