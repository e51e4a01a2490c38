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
import os.path as osp
import time
from typing import Dict, Optional

from mmengine.runner import find_latest_checkpoint

from cvt_backbone.apis import infer, summarise
from cvt_backbone.engine import build_config, build_runner
from cvt_backbone.testing import generate_detection, generate_segmentation

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_DEMO = osp.join(ROOT, 'configs', 'demo_mask-rcnn_cvt_synthetic.py')
SEG_DEMO = osp.join(ROOT, 'configs', 'demo_upernet_cvt_synthetic.py')


def _val_metric(runner, key: str) -> float:
    return float(runner.message_hub.get_scalar(f'val/{key}').current())


def data_options(task: str, root: str) -> dict:
    """``--cfg-options`` pointing a demo config at a generated set."""
    if task == 'det':
        ann = osp.join(root, 'annotations/instances_val.json')
        root = root + '/'
        return {'data_root': root,
                'train_dataloader.dataset.data_root': root,
                'val_dataloader.dataset.data_root': root,
                'test_dataloader.dataset.data_root': root,
                'val_evaluator.ann_file': ann,
                'test_evaluator.ann_file': ann}
    return {f'{split}_dataloader.dataset.data_root': root
            for split in ('train', 'val', 'test')}


def run_demo(work_dir: str = 'work_dirs/demo_dense', data_root: str = 'data',
             det_config: str = DET_DEMO, seg_config: str = SEG_DEMO,
             cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Generate the data, train and evaluate both demo models, draw one
    val prediction each. Returns the figures and paths (also printed)."""
    start = time.time()
    roots = dict(det=generate_detection(osp.join(data_root, 'synthetic_coco')),
                 seg=generate_segmentation(osp.join(data_root,
                                                    'synthetic_ade')))
    report: Dict[str, object] = {}
    for task, config in (('det', det_config), ('seg', seg_config)):
        t0 = time.time()
        task_dir = osp.join(work_dir, osp.splitext(osp.basename(config))[0])
        options = dict(data_options(task, roots[task]), **(cfg_options or {}))
        runner = build_runner(build_config(config, work_dir=task_dir,
                                           cfg_options=options))
        runner.train()
        report[f'{task}_train_s'] = time.time() - t0
        if task == 'det':
            report['bbox_mAP'] = _val_metric(runner, 'coco/bbox_mAP')
            report['segm_mAP'] = _val_metric(runner, 'coco/segm_mAP')
            image = osp.join(roots[task], 'val', '000000.png')
        else:
            report['mIoU'] = _val_metric(runner, 'mIoU')
            image = osp.join(roots[task], 'images', 'validation',
                             '000000.png')
        ckpt = find_latest_checkpoint(task_dir)
        if ckpt is None:
            raise FileNotFoundError(f'training saved no checkpoint in '
                                    f'{task_dir}')
        result, out = infer(runner.cfg, ckpt, image,
                            osp.join(work_dir, f'{task}_prediction.png'))
        report[f'{task}_checkpoint'] = ckpt
        report[f'{task}_png'] = out
        report[f'{task}_summary'] = summarise(task, result)
        del runner
    report['wall_s'] = time.time() - start
    print('\n'.join([
        'dense-prediction demo finished '
        f'({report["wall_s"]:.0f} s wall, det training '
        f'{report["det_train_s"]:.0f} s, seg training '
        f'{report["seg_train_s"]:.0f} s)',
        f'  Mask R-CNN-CvT  COCO bbox mAP: {report["bbox_mAP"]:.3f}   '
        f'segm mAP: {report["segm_mAP"]:.3f}   (CocoMetric, val split)',
        f'  UperNet-CvT     mIoU: {report["mIoU"]:.2f}   (IoUMetric, val '
        'split, %)',
        f'  detection drawn:    {report["det_png"]}  '
        f'({report["det_summary"]})',
        f'  segmentation drawn: {report["seg_png"]}  '
        f'({report["seg_summary"]})',
    ]), flush=True)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('--work-dir', default='work_dirs/demo_dense')
    p.add_argument('--data-root', default='data')
    p.add_argument('--det-config', default=DET_DEMO)
    p.add_argument('--seg-config', default=SEG_DEMO)
    args = p.parse_args(argv)
    run_demo(args.work_dir, args.data_root, args.det_config, args.seg_config)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
