"""The input-pipeline benchmark on a few JPEGs (not a timing test)."""
import pytest

from cvt_backbone.benchmark import (
    PIPELINES,
    pipeline_steps,
    run_benchmark,
    run_pipeline_worker,
)


def test_pipeline_case_times_every_pipeline_and_step(jpegs, tmp_path):
    """Decode alone and the three pipelines, in one worker process, with
    each step's time; the table puts them side by side with decode."""
    res = run_pipeline_worker(dict(
        mode='pipeline', h=64, data=jpegs, images=6, passes=1,
        pipelines=list(PIPELINES)))
    assert res['images'] == 6
    assert set(res['time']) == set(PIPELINES)
    assert all(t > 0 for t in res['time'].values())
    ours = [name for name, _ in res['steps']['ours']]
    assert ours == ['results', 'DecodeRandomResizedCrop', 'RandomFlip',
                    'FastRandAugment', 'FastRandomErasing', 'FastPackInputs']
    theirs = [name for name, _ in res['steps']['mmpretrain']]
    assert theirs[1:3] == ['LoadImageFromFile', 'RandomResizedCrop']
    for name, steps in res['steps'].items():
        assert sum(t for _, t in steps) == pytest.approx(res['time'][name])
    # the steps run: a crop of the asked size comes out
    out = jpegs + '/train/circle/circle_00000.JPEG'
    for _, fn in pipeline_steps('ours', 64):
        out = fn(out)
    assert tuple(out['inputs'].shape) == (3, 64, 64)

    out_dir = tmp_path / 'bench'
    run_benchmark(str(out_dir), cases=['pipeline'], data=jpegs,
                  sizes=dict(pipeline=dict(batch=1, h=64, w=64)),
                  pipeline_images=6, pipeline_passes=1, repeats=1)
    table = (out_dir / 'table.md').read_text()
    assert '| JPEG decode alone (OpenCV) |' in table
    assert '| 100% |' in table  # decode against itself
    for name in ('mmpretrain', 'ours', 'timm'):
        assert f'- {name}: ' in table
