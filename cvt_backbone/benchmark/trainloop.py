"""The train-loop benchmark: images/s of a real ``tools/train.py`` run of
``configs/cvt13_classify.py`` on the generated JPEGs with N loader workers,
its model replaced by :class:`cvt_backbone.testing.LoaderProbe` (a step that
costs nothing) so that the loader, not the model, sets the pace. The run is
its own process (``tools/train.py``); its iteration times are read back from
its scalar log."""
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, Optional

from .cases import CLASSIFY_CONFIG, REPO_ROOT, TRAIN_SCRIPT
from .runner import failure, package_env


def trainloop_config(path: str, data_root: str, work_dir: str, workers: int,
                     batch: int, epochs: int, config: str) -> str:
    """Write to ``path`` a config inheriting ``config`` that trains for
    ``epochs`` on the JPEG folder with ``workers`` loader workers, with the
    config's dataset, pipeline, loader and data preprocessor (Mixup/CutMix
    included) but ``LoaderProbe`` for the model (a step that costs nothing,
    so the loader sets the pace); no validation, checkpoint or
    learning-rate schedule. Returns ``path``."""
    from mmengine.config import Config
    base = Config.fromfile(config)
    Config(dict(
        _base_=[config],
        custom_imports=dict(imports=['cvt_backbone', 'cvt_backbone.testing'],
                            allow_failed_imports=False),
        model=dict(
            _delete_=True, type='LoaderProbe',
            data_preprocessor=dict(base.data_preprocessor,
                                   type='mmpretrain.ClsDataPreprocessor',
                                   batch_augments=base.model.train_cfg)),
        train_dataloader=dict(
            batch_size=batch, num_workers=workers,
            persistent_workers=workers > 0, pin_memory=False,
            dataset=dict(data_root=data_root, split='train')),
        train_cfg=dict(max_epochs=epochs, val_interval=epochs + 1),
        val_dataloader=None, val_cfg=None, val_evaluator=None,
        test_dataloader=None, test_cfg=None, test_evaluator=None,
        param_scheduler=None,
        default_hooks=dict(logger=dict(interval=1), checkpoint=None),
        log_processor=dict(window_size=1),  # each iteration's own time
        custom_hooks=[],
        randomness=dict(seed=0),
        work_dir=work_dir)).dump(path)
    return path


def run_trainloop(data_root: str, workers: int, batch: int, tmp: str,
                  epochs: int = 3, config: Optional[str] = None,
                  timeout: float = 1800.) -> Dict[str, Any]:
    """Images/s of ``tools/train.py`` on the JPEG folder with ``workers``
    loader workers: the batch over the median iteration time of the epochs
    after the first (workers started, persistent). A run that fails or
    times out comes back as ``{'error': ...}``."""
    from cvt_backbone.visualization import read_scalars, split_records
    work = tempfile.mkdtemp(dir=tmp, prefix=f'loop{workers}_')
    cfg = trainloop_config(osp.join(work, 'cfg.py'), data_root, work,
                           workers, batch, epochs, config or CLASSIFY_CONFIG)
    # the training process runs one thread, as on a GPU host where its
    # tensor work is on the GPU: here its OpenMP threads would otherwise
    # spin against the loader workers for the same cores
    env = dict(package_env(), PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    try:
        proc = subprocess.run([sys.executable, TRAIN_SCRIPT, cfg],
                              cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(error=f'train.py ran past {timeout:.0f} s (timeout)')
    train, _ = split_records(read_scalars(work))
    if proc.returncode != 0 or not train:
        return failure('train.py', proc)
    per_epoch = len(train) // epochs
    later = [r for it, r in train.items() if it > per_epoch]
    t = statistics.median(r['time'] for r in later)
    return dict(time=t, images_per_s=batch / t, iterations=len(later),
                data_time=statistics.median(r['data_time'] for r in later))
