"""Run a detector or segmenter on one image (any size) and draw the result.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [--out FILE]
                          [--score-thr 0.3] [--device cpu]

mmdet configs (default_scope='mmdet') draw boxes, masks and labels with
mmdet's DetLocalVisualizer; mmseg configs draw the segmentation overlay with
SegLocalVisualizer. The image goes through the config's test pipeline and
the prediction is mapped back to the image's own size. Default output:
IMAGE with the suffix ``_pred.png``.
"""
import argparse

from cvt_backbone.apis import infer, summarise


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('image')
    p.add_argument('--out', help='output image (default IMAGE_pred.png)')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='detections below this score are not drawn')
    p.add_argument('--device', default='cpu')
    args = p.parse_args(argv)
    result, out = infer(args.config, args.checkpoint, args.image, args.out,
                        args.score_thr, args.device)
    task = 'det' if hasattr(result, 'pred_instances') else 'seg'
    print(f'{summarise(task, result, args.score_thr)}; drawn to {out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
