import json
import logging
import os.path as osp
from typing import Dict

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import find_latest_checkpoint

from ...visualization import plot_curves


@HOOKS.register_module()
class TrainingSummaryHook(Hook):
    """At the end of training: save ``curves.png`` (loss and validation
    metrics against epoch) in the run's log folder, write ``summary.json``
    (with ``BadImageHook``'s per-epoch counts of skipped images) and print
    the last metrics and where the checkpoint and plot are.

    mmpretrain leaves plotting to an offline tool (``analyze_logs.py``); this
    hook gives the demo and every run its figures and curves at the end.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.last_metrics: Dict[str, float] = {}
        self.last_epoch = 0

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics:
            self.last_metrics = {k: float(v) for k, v in metrics.items()}
            self.last_epoch = runner.epoch

    def after_run(self, runner) -> None:
        if runner.rank != 0:
            return
        log_dir = runner.log_dir
        plot = None
        try:
            plot = plot_curves(log_dir, osp.join(log_dir, 'curves.png'))
        except (FileNotFoundError, ValueError) as e:
            print_log(f'no curves plotted: {e}', logger='current',
                      level=logging.WARNING)
        ckpt = find_latest_checkpoint(runner.work_dir)
        summary = dict(epoch=self.last_epoch, metrics=self.last_metrics,
                       checkpoint=ckpt, curves=plot, work_dir=runner.work_dir)
        bad = runner.message_hub.get_info('bad_images')
        if bad is not None:  # per phase, per epoch (BadImageHook)
            summary['bad_images'] = bad
        with open(osp.join(runner.work_dir, 'summary.json'), 'w') as f:
            json.dump(summary, f, indent=2)
        lines = ['training finished']
        for k, v in self.last_metrics.items():
            lines.append(f'  {k}: {v:.2f} (val, epoch {self.last_epoch})')
        lines.append(f'  checkpoint: {ckpt}')
        lines.append(f'  curves:     {plot}')
        lines.append('  summary:    ' +
                     osp.join(runner.work_dir, 'summary.json'))
        print_log('\n'.join(lines), logger='current')
