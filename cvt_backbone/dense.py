"""Dense prediction with CvT: inference, drawing and the embedded demo.

* :func:`infer` runs an mmdet detector or an mmseg segmenter (chosen by the
  config's ``default_scope``) on one image of any size and draws the
  detections (boxes, masks, labels) or the segmentation overlay with
  mmdet's ``DetLocalVisualizer`` / mmseg's ``SegLocalVisualizer``.
  ``tools/infer.py`` is its command line.
* :func:`run_demo` writes the synthetic COCO and ADE-style sets, trains the
  two demo configs briefly through mmengine's Runner, and reports COCO
  bbox/segm mAP (mmdet ``CocoMetric``) and mIoU (mmseg ``IoUMetric``) on the
  val split, plus one drawn prediction per task. ``tools/demo_dense.py`` is
  its command line.
"""
import os
import os.path as osp
import time
from typing import Dict, Optional, Tuple

import numpy as np

from .runtime import last_checkpoint

DET_DEMO = 'configs/demo_mask-rcnn_cvt_synthetic.py'
SEG_DEMO = 'configs/demo_upernet_cvt_synthetic.py'


def config_task(cfg) -> str:
    """``'det'`` for an mmdet config, ``'seg'`` for an mmseg one."""
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'det'
    if scope == 'mmseg':
        return 'seg'
    raise ValueError(f"default_scope {scope!r} is neither 'mmdet' nor "
                     "'mmseg': not a dense-prediction config")


def init_model(config, checkpoint: Optional[str] = None,
               device: str = 'cpu') -> Tuple[object, str]:
    """Build the model of ``config`` (path or Config), load ``checkpoint``
    and return ``(model, task)``. Class names come from the checkpoint's
    ``dataset_meta`` (mmengine stores it) or the config's dataset."""
    from mmengine.config import Config
    if isinstance(config, str):
        config = Config.fromfile(config)
    task = config_task(config)
    if task == 'det':
        from mmdet.apis import init_detector
        model = init_detector(config, checkpoint, device=device)
    else:
        from mmseg.apis import init_model as init_segmentor
        model = init_segmentor(config, checkpoint, device=device)
    return model, task


def _visualizer(task: str, model):
    name = f'cvt_{task}_{time.time_ns()}'  # visualizers are named instances
    if task == 'det':
        from mmdet.visualization import DetLocalVisualizer
        vis = DetLocalVisualizer(name=name)
    else:
        from mmseg.visualization import SegLocalVisualizer
        vis = SegLocalVisualizer(name=name, alpha=0.5)
    vis.dataset_meta = model.dataset_meta
    return vis


def predict(model, task: str, image: np.ndarray):
    """One image (BGR ``uint8 [H, W, 3]``, any size) -> a Det/SegDataSample
    in the image's own coordinates."""
    if task == 'det':
        from mmdet.apis import inference_detector
        return inference_detector(model, image)
    from mmseg.apis import inference_model
    return inference_model(model, image)


def draw(model, task: str, image: np.ndarray, result, out_file: str,
         score_thr: float = 0.3) -> str:
    """Draw ``result`` on ``image`` and save it as ``out_file`` (PNG/JPG)."""
    import mmcv
    vis = _visualizer(task, model)
    rgb = mmcv.bgr2rgb(image)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    kwargs = dict(pred_score_thr=score_thr) if task == 'det' else {}
    vis.add_datasample('prediction', rgb, result, draw_gt=False, show=False,
                       out_file=out_file, **kwargs)
    return out_file


def summarise(task: str, result, score_thr: float = 0.3) -> str:
    if task == 'det':
        inst = result.pred_instances
        keep = inst.scores >= score_thr
        return (f'{int(keep.sum())} detections with score >= {score_thr} '
                f'({len(inst)} in total)')
    seg = result.pred_sem_seg.data.cpu().numpy()[0]
    labels, counts = np.unique(seg, return_counts=True)
    share = ', '.join(f'{int(l)}: {c / seg.size:.0%}'
                      for l, c in zip(labels, counts))
    return f'segmentation {seg.shape[0]}x{seg.shape[1]}, class shares {share}'


def infer(config, checkpoint: Optional[str], image: str,
          out: Optional[str] = None, score_thr: float = 0.3,
          device: str = 'cpu'):
    """Predict on the image file ``image`` and draw the result to ``out``
    (default ``<image stem>_pred.png``). Returns ``(result, out)``."""
    import mmcv
    model, task = init_model(config, checkpoint, device)
    img = mmcv.imread(image)
    if img is None:
        raise FileNotFoundError(f'cannot read image {image}')
    result = predict(model, task, img)
    if out is None:
        out = osp.splitext(image)[0] + '_pred.png'
    draw(model, task, img, result, out, score_thr)
    return result, out


# -- the embedded demo ----------------------------------------------------
def _val_metric(runner, key: str) -> float:
    return float(runner.message_hub.get_scalar(f'val/{key}').current())


def run_demo(work_dir: str = 'work_dirs/demo_dense', data_root: str = 'data',
             det_config: str = DET_DEMO, seg_config: str = SEG_DEMO,
             cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Generate the data, train and evaluate both demo models, draw one
    val prediction each. Returns the figures and paths (also printed)."""
    from .runtime import train
    from .synthetic import generate_detection, generate_segmentation
    start = time.time()
    coco_root = osp.join(data_root, 'synthetic_coco')
    ade_root = osp.join(data_root, 'synthetic_ade')
    generate_detection(coco_root)
    generate_segmentation(ade_root)
    report: Dict[str, object] = {}
    for task, config, options in (
            ('det', det_config, dict(
                data_root=coco_root + '/',
                **{'train_dataloader.dataset.data_root': coco_root + '/',
                   'val_dataloader.dataset.data_root': coco_root + '/',
                   'test_dataloader.dataset.data_root': coco_root + '/',
                   'val_evaluator.ann_file': osp.join(
                       coco_root, 'annotations/instances_val.json'),
                   'test_evaluator.ann_file': osp.join(
                       coco_root, 'annotations/instances_val.json')})),
            ('seg', seg_config, {
                'train_dataloader.dataset.data_root': ade_root,
                'val_dataloader.dataset.data_root': ade_root,
                'test_dataloader.dataset.data_root': ade_root})):
        t0 = time.time()
        task_dir = osp.join(work_dir, osp.splitext(osp.basename(config))[0])
        options = dict(options, **(cfg_options or {}))
        runner = train(config, work_dir=task_dir, cfg_options=options)
        report[f'{task}_train_s'] = time.time() - t0
        if task == 'det':
            report['bbox_mAP'] = _val_metric(runner, 'coco/bbox_mAP')
            report['segm_mAP'] = _val_metric(runner, 'coco/segm_mAP')
            image = osp.join(coco_root, 'val', '000000.png')
        else:
            report['mIoU'] = _val_metric(runner, 'mIoU')
            image = osp.join(ade_root, 'images', 'validation', '000000.png')
        ckpt = last_checkpoint(task_dir)
        if ckpt is None:
            raise FileNotFoundError(f'training saved no checkpoint in '
                                    f'{task_dir}')
        out = osp.join(work_dir, f'{task}_prediction.png')
        result, out = infer(runner.cfg, ckpt, image, out)
        report[f'{task}_checkpoint'] = ckpt
        report[f'{task}_png'] = out
        report[f'{task}_summary'] = summarise(task, result)
        del runner
    report['wall_s'] = time.time() - start
    lines = [
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
    ]
    print('\n'.join(lines), flush=True)
    return report
