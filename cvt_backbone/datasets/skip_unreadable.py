"""Validation and test over the readable images only.

mmengine's datasets answer a pipeline that returns ``None`` (an unreadable
image, ``bad_images``) by drawing another sample while training, but raise
``Test time pipline should not get None data_sample`` in test mode (mmdet's
and mmseg's validation sets), and a replacement would count another image
twice in a metric. Here the sample is dropped: :class:`SkipUnreadable`
wraps the validation / test dataset and returns ``None`` for it,
:func:`collate_readable` leaves the ``None`` out of the batch (``None`` for
a batch with nothing left), and ``cvt_backbone.engine``'s
``ValLoop``/``TestLoop`` (``SkippingValLoop``, ``SkippingTestLoop``) skip
such a batch. ``cvt_backbone.engine.build_config`` sets the three up; the
files are reported as in training.
"""
from typing import Any, Callable, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS, FUNCTIONS


@DATASETS.register_module()
class SkipUnreadable:
    """``dataset`` (a config or a built dataset) whose samples are
    ``None`` where its pipeline gave ``None``, in test mode or not (the
    pipeline runs as the dataset's own ``prepare_data``). ``metainfo``,
    ``len`` and ``get_data_info`` are the dataset's, so samplers and
    evaluators see it unchanged."""

    def __init__(self, dataset: Union[dict, BaseDataset],
                 lazy_init: bool = False) -> None:
        self.dataset = (DATASETS.build(dataset) if isinstance(dataset, dict)
                        else dataset)
        if not hasattr(self.dataset, 'prepare_data'):
            raise TypeError('SkipUnreadable wraps an mmengine BaseDataset '
                            '(with prepare_data); got '
                            f'{type(self.dataset).__name__}')
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> Optional[dict]:
        if hasattr(self.dataset, '_fully_initialized') and \
                not self.dataset._fully_initialized:
            self.dataset.full_init()
        return self.dataset.prepare_data(idx)

    def __getattr__(self, name: str) -> Any:
        # what evaluators and visualisers read of the dataset (e.g. mmdet's
        # ``coco``, mmseg's ``ann_file``); not for private names, so that
        # copy/pickle protocols do not recurse before ``dataset`` is set
        dataset = self.__dict__.get('dataset')
        if name.startswith('_') or dataset is None:
            raise AttributeError(name)
        return getattr(dataset, name)


@FUNCTIONS.register_module()
def collate_readable(data_batch: Sequence[Optional[Any]],
                     collate: Union[str, Callable] = 'pseudo_collate'
                     ) -> Optional[Any]:
    """``collate`` (a name in mmengine's ``FUNCTIONS``, e.g.
    ``'pseudo_collate'`` or ``'default_collate'``, or a function) over the
    samples that are not ``None``; ``None`` when none is left."""
    if isinstance(collate, str):
        name = collate
        collate = FUNCTIONS.get(name)
        if collate is None:
            raise KeyError(f'collate function {name!r} is not registered in '
                           "mmengine's FUNCTIONS")
    kept: List[Any] = [d for d in data_batch if d is not None]
    if not kept:
        return None
    return collate(kept)
