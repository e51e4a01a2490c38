"""mmengine's validation and test loops, skipping the empty batches that
``cvt_backbone.datasets.collate_readable`` gives when every image of a batch
was unreadable (see ``cvt_backbone.datasets.skip_unreadable``); otherwise
they are mmengine's ``ValLoop`` and ``TestLoop``."""
from mmengine.registry import LOOPS
from mmengine.runner import TestLoop, ValLoop


@LOOPS.register_module()
class SkippingValLoop(ValLoop):
    """``ValLoop`` that leaves out a batch of nothing but unreadable
    images (``None``)."""

    def run_iter(self, idx, data_batch) -> None:
        if data_batch is not None:
            super().run_iter(idx, data_batch)


@LOOPS.register_module()
class SkippingTestLoop(TestLoop):
    """``TestLoop`` that leaves out a batch of nothing but unreadable
    images (``None``)."""

    def run_iter(self, idx, data_batch) -> None:
        if data_batch is not None:
            super().run_iter(idx, data_batch)
