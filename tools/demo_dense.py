"""The dense-prediction demo on the CPU.

    python tools/demo_dense.py [--work-dir work_dirs/demo_dense]
                               [--data-root data]

Writes the synthetic COCO-format instance set and ADE-style semantic set
(data/synthetic_coco, data/synthetic_ade; the same scenes), trains Mask
R-CNN-CvT (configs/demo_mask-rcnn_cvt_synthetic.py) and UperNet-CvT
(configs/demo_upernet_cvt_synthetic.py) briefly through mmengine's Runner,
prints COCO bbox/segm mAP (mmdet CocoMetric) and mIoU (mmseg IoUMetric) on
the val split and saves one drawn val prediction per task as PNG.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cvt_backbone.dense import DET_DEMO, SEG_DEMO, run_demo  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('--work-dir', default='work_dirs/demo_dense')
    p.add_argument('--data-root', default='data')
    p.add_argument('--det-config', default=os.path.join(ROOT, DET_DEMO))
    p.add_argument('--seg-config', default=os.path.join(ROOT, SEG_DEMO))
    args = p.parse_args(argv)
    run_demo(args.work_dir, args.data_root, args.det_config, args.seg_config)
    return 0


if __name__ == '__main__':
    sys.exit(main())
