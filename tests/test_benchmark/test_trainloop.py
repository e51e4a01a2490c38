"""The train-loop benchmark: a real tools/train.py run (not a timing
test)."""
import pytest

from cvt_backbone.benchmark import run_trainloop, trainloop_config


@pytest.mark.slow
def test_trainloop_case_runs_tools_train(jpegs, tmp_path):
    """A real tools/train.py run of the classification config on the JPEGs
    with a loader worker and the zero-cost model."""
    res = run_trainloop(jpegs, workers=1, batch=2, tmp=str(tmp_path),
                        epochs=2)
    assert 'error' not in res, res
    assert res['images_per_s'] > 0 and res['iterations'] == 3
    assert res['data_time'] >= 0


def test_trainloop_config_inherits_the_config_with_the_probe(tmp_path):
    """The written config reads back through mmengine's inheritance: the
    config's pipeline and Mixup/CutMix (as configs/_base_ has them),
    LoaderProbe for the model, the asked loader workers and batch, no
    validation."""
    from mmengine.config import Config

    from cvt_backbone.benchmark.cases import CLASSIFY_CONFIG
    path = trainloop_config(str(tmp_path / 'cfg.py'), '/data/jpegs',
                            str(tmp_path), workers=2, batch=4, epochs=3,
                            config=CLASSIFY_CONFIG)
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'LoaderProbe' and 'backbone' not in cfg.model
    preprocessor = cfg.model.data_preprocessor
    assert preprocessor.type == 'mmpretrain.ClsDataPreprocessor'
    assert preprocessor.num_classes == 1000 and preprocessor.to_rgb
    assert preprocessor.batch_augments == dict(augments=[
        dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)])
    loader = cfg.train_dataloader
    assert (loader.batch_size, loader.num_workers) == (4, 2)
    assert loader.persistent_workers is True
    assert loader.dataset.data_root == '/data/jpegs'
    assert [t.type for t in loader.dataset.pipeline] == [
        'DecodeRandomResizedCrop', 'RandomFlip', 'FastRandAugment',
        'FastRandomErasing', 'FastPackInputs']
    assert cfg.train_cfg.max_epochs == 3 and cfg.val_dataloader is None
