"""Each epoch's unreadable images, counted on every rank, in the log and in
``summary.json`` (``cvt_backbone.datasets.bad_images``)."""
import glob
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.dist import all_gather_object
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop

from ...datasets.bad_images import (
    DEFAULT_MAX_FRACTION,
    DEFAULT_MIN_COUNT,
    TooManyBadImagesError,
)

_WHAT = dict(train='replaced by other samples', val='left out of the metrics',
             test='left out of the metrics')


@HOOKS.register_module()
class BadImageHook(Hook):
    """After each training, validation and test epoch: read the files the
    loading transforms wrote into ``bad_image_dir`` since the last epoch
    (each rank its own, then gathered), log how many images were skipped
    with the first ``first`` paths and reasons, keep the counts in the
    message hub (``'bad_images'``: saved with checkpoints, written into
    ``summary.json`` by ``TrainingSummaryHook``), and stop the run when an
    epoch skipped more than ``min_count`` images and more than
    ``max_fraction`` of its samples (each data worker also stops on its
    own at that limit, without waiting for the epoch's end).

    mmengine's datasets skip a ``None`` sample without a word; this hook
    is what makes the skipping visible and bounded."""

    priority = 'LOW'

    def __init__(self, bad_image_dir: str,
                 max_fraction: Optional[float] = DEFAULT_MAX_FRACTION,
                 min_count: int = DEFAULT_MIN_COUNT, first: int = 5) -> None:
        self.bad_image_dir = bad_image_dir
        self.max_fraction, self.min_count = max_fraction, min_count
        self.first = first
        self._offsets: Dict[str, int] = {}
        self._baseline_taken = False

    def _files(self, phase: str, rank: int) -> List[str]:
        return sorted(glob.glob(osp.join(self.bad_image_dir,
                                         f'{phase}-rank{rank}-pid*.tsv')))

    def _take_baseline(self, runner) -> None:
        """Lines already there (a run before a resume) are not this run's."""
        if self._baseline_taken:
            return
        for phase in _WHAT:
            for path in self._files(phase, runner.rank):
                self._offsets[path] = os.path.getsize(path)
        self._baseline_taken = True

    def before_run(self, runner) -> None:
        self._take_baseline(runner)

    def _new_entries(self, phase: str, rank: int) -> List[Tuple[str, str]]:
        entries = []
        for path in self._files(phase, rank):
            with open(path) as f:
                f.seek(self._offsets.get(path, 0))
                text = f.read()
                self._offsets[path] = f.tell()
            for line in text.splitlines():
                file, _, reason = line.partition('\t')
                entries.append((file, reason))
        return entries

    def _collect(self, runner, phase: str, samples: int,
                 epoch: Optional[int]) -> None:
        self._take_baseline(runner)
        gathered = all_gather_object(self._new_entries(phase, runner.rank))
        # distinct files: a bad file drawn again as a replacement is one
        reasons = dict(e for part in gathered for e in part)
        entries = list(reasons.items())
        record = dict(epoch=epoch, skipped=len(entries), samples=samples,
                      first=[f'{p} ({r})' for p, r in entries[:self.first]])
        report = runner.message_hub.get_info('bad_images') or {}
        report.setdefault(phase, []).append(record)
        runner.message_hub.update_info('bad_images', report)
        if not entries:
            return
        when = f'epoch {epoch}' if epoch is not None else phase
        print_log(f'{when}: {len(entries)} unreadable {phase} image(s) of '
                  f'{samples} skipped ({_WHAT[phase]}): ' +
                  '; '.join(record['first']) +
                  (' ...' if len(entries) > self.first else '') +
                  f' (all of them: {self.bad_image_dir})', logger='current',
                  level=logging.WARNING)
        if self.max_fraction is not None and \
                len(entries) > self.min_count and \
                len(entries) > self.max_fraction * samples:
            raise TooManyBadImagesError(
                f'{when}: {len(entries)} of {samples} {phase} images could '
                f'not be decoded, more than the limit (bad_images: '
                f'max_fraction={self.max_fraction}, min_count='
                f'{self.min_count}); the first: {"; ".join(record["first"])}'
                f'. All of them are listed in {self.bad_image_dir}.')

    @staticmethod
    def _samples(dataloader) -> int:
        return len(getattr(dataloader, 'dataset', ()) or ())

    def after_train_epoch(self, runner) -> None:
        self._collect(runner, 'train', self._samples(runner.train_dataloader),
                      runner.epoch + 1)

    def after_val_epoch(self, runner, metrics=None) -> None:
        # the epoch when validating during training (``train_loop`` itself
        # would build a training loop in a ``runner.val()`` run)
        training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        self._collect(runner, 'val', self._samples(runner.val_dataloader),
                      runner.epoch if training else None)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._collect(runner, 'test', self._samples(runner.test_dataloader),
                      None)
