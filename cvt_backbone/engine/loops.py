"""mmengine's validation and test loops, skipping the empty batches that
``cvt_backbone.datasets.collate_readable`` gives when every image of a batch
was unreadable (see ``cvt_backbone.datasets.skip_unreadable``); otherwise
they are mmengine's ``ValLoop`` and ``TestLoop``."""
from mmengine.registry import LOOPS
from mmengine.runner import TestLoop, ValLoop


class _SkipsEmptyBatches:
    """Leaves out a batch of nothing but unreadable images (``None``);
    mixed in before an mmengine loop."""

    def run_iter(self, idx, data_batch) -> None:
        if data_batch is not None:
            super().run_iter(idx, data_batch)


@LOOPS.register_module()
class SkippingValLoop(_SkipsEmptyBatches, ValLoop):
    """``ValLoop`` that leaves out batches of unreadable images."""


@LOOPS.register_module()
class SkippingTestLoop(_SkipsEmptyBatches, TestLoop):
    """``TestLoop`` that leaves out batches of unreadable images."""
