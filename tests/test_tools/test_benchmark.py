"""The benchmark's logic on a tiny CvT at tiny sizes (not a timing test)."""
import json

import pytest

from helpers import load_tool

benchmark = load_tool('analysis_tools/benchmark.py')

TINY = json.dumps(dict(embed_dims=[16, 32, 64], depths=[1, 2, 3],
                       num_heads=[1, 2, 2]))


def test_runs_both_implementations_and_writes_outputs(tmp_path):
    pytest.importorskip('transformers')
    pytest.importorskip('matplotlib')
    out = tmp_path / 'bench'
    assert benchmark.main([
        '--out', str(out), '--arch', TINY, '--cases', 'infer512',
        '--size', 'infer512=1x48x64', '--variants', 'ours', 'theirs',
        '--dtypes', 'fp32', '--repeats', '1', '--iters', '1', '--warmup', '0',
        '--peak-size', '64']) == 0
    results = json.loads((out / 'results.json').read_text())
    rows = {r['variant']: r for r in results['rows']}
    assert set(rows) == {'ours', 'theirs'}
    for r in rows.values():
        assert 'error' not in r['runs'][0], r['runs'][0]
        assert r['time_s'] > 0 and r['peak_rss_mb'] > 0
        assert (r['h'], r['w'], r['batch']) == (48, 64, 1)
    assert rows['theirs']['speedup'] == pytest.approx(1.0)
    assert results['matmul_peak_flops'] > 0
    table = (out / 'table.md').read_text()
    assert '| infer512 | inference 1x48x64 | fp32 | ours |' in table
    assert 'transformers' in table
    png = (out / 'plot.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_worker_runs_a_training_step_with_identical_weights(tmp_path):
    """In-process worker: both implementations load the same weights and a
    training step (forward, backward, optimizer) runs; inference outputs
    agree, so the comparison is like for like."""
    pytest.importorskip('transformers')
    import torch
    arch = benchmark.parse_arch(TINY)
    weights = str(tmp_path / 'w.pth')
    benchmark.save_reference_weights(arch, weights)
    spec = dict(arch=arch, weights=weights, mode='infer', batch=1, h=40, w=56,
                dtype='fp32', device='cpu', warmup=0, iters=1)
    ours = benchmark.build_model(dict(spec, variant='ours'))
    theirs = benchmark.build_model(dict(spec, variant='theirs'))
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        a = benchmark._forward_fn(ours, 'ours')(x)
        b = benchmark._forward_fn(theirs, 'theirs')(x)
    assert (a - b).abs().max() <= 1e-4
    res = benchmark.run_worker(dict(spec, mode='train', batch=2,
                                    variant='ours_cp'))
    assert len(res['times']) == 1 and res['mem_mb'] >= 0


def test_onnxruntime_and_unfused_variants_run_like_for_like(tmp_path):
    """ours_onnx (onnxruntime on the exported fused model) and ours_unfused
    compute what the fused eager model computes, with torch's thread
    count; they are measured for fp32 inference only."""
    import torch
    arch = benchmark.parse_arch(TINY)
    weights = str(tmp_path / 'w.pth')
    benchmark.save_reference_weights(arch, weights)
    spec = dict(arch=arch, weights=weights, mode='infer', batch=2, h=40,
                w=56, dtype='fp32', device='cpu', warmup=0, iters=1)
    x = torch.randn(2, 3, 40, 56)
    outs = {}
    for v in ('ours', 'ours_unfused', 'ours_onnx', 'ours_onnx23'):
        model = benchmark.build_model(dict(spec, variant=v))
        with torch.no_grad():
            outs[v] = torch.as_tensor(benchmark._forward_fn(model, v)(x))
    session = benchmark.build_model(dict(spec, variant='ours_onnx'))
    threads = session.get_session_options().intra_op_num_threads
    assert threads == torch.get_num_threads()
    for v in ('ours_unfused', 'ours_onnx', 'ours_onnx23'):
        assert (outs[v] - outs['ours']).abs().max() <= 1e-4, v
    assert benchmark.applies('ours_onnx', 'infer', 'fp32')
    assert not benchmark.applies('ours_onnx', 'infer', 'bf16')
    assert not benchmark.applies('ours_onnx', 'train', 'fp32')
    assert not benchmark.applies('ours_unfused', 'train', 'fp32')


@pytest.mark.slow
def test_onnx_rows_and_ratios_in_the_table(tmp_path):
    out = tmp_path / 'bench'
    assert benchmark.main([
        '--out', str(out), '--arch', TINY, '--cases', 'infer224',
        'train224', '--size', 'infer224=2x48x64', '--size',
        'train224=2x32x32', '--variants', 'ours', 'ours_unfused',
        'ours_onnx', '--dtypes', 'fp32', '--repeats', '1', '--iters', '1',
        '--warmup', '0', '--peak-size', '64']) == 0
    results = json.loads((out / 'results.json').read_text())
    rows = {(r['case'], r['variant']): r for r in results['rows']}
    assert set(rows) == {('infer224', 'ours'), ('infer224', 'ours_unfused'),
                         ('infer224', 'ours_onnx'), ('train224', 'ours')}
    for r in rows.values():
        assert 'error' not in r['runs'][0], r['runs'][0]
        assert r['time_s'] > 0
    table = (out / 'table.md').read_text()
    assert '| infer224 | inference 2x48x64 | fp32 | ours, onnxruntime ' \
        '(opset 18) |' in table
    assert '- onnxruntime (opset 18) vs torch fused eager, infer224 fp32: ' \
        in table
    assert '- onnxruntime (opset 18) vs torch eager, BatchNorm not folded, ' \
        'infer224 fp32: ' in table


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    """Six generated ImageNet-sized JPEGs (one per class)."""
    from cvt_backbone.testing import JpegSpec, generate_jpeg_classification
    return generate_jpeg_classification(
        str(tmp_path_factory.mktemp('jpegs')),
        JpegSpec(train_per_class=1, val_per_class=1), verbose=False)


def test_pipeline_case_times_every_pipeline_and_step(jpegs, tmp_path):
    """Decode alone and the three pipelines, in one worker process, with
    each step's time; the table puts them side by side with decode."""
    res = benchmark.run_pipeline_worker(dict(
        mode='pipeline', h=64, data=jpegs, images=6, passes=1,
        pipelines=list(benchmark.PIPELINES)))
    assert res['images'] == 6
    assert set(res['time']) == set(benchmark.PIPELINES)
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
    for _, fn in benchmark.pipeline_steps('ours', 64):
        out = fn(out)
    assert tuple(out['inputs'].shape) == (3, 64, 64)

    out_dir = tmp_path / 'bench'
    assert benchmark.main([
        '--out', str(out_dir), '--cases', 'pipeline', '--data', jpegs,
        '--size', 'pipeline=1x64x64', '--pipeline-images', '6',
        '--pipeline-passes', '1', '--repeats', '1']) == 0
    table = (out_dir / 'table.md').read_text()
    assert '| JPEG decode alone (OpenCV) |' in table
    assert '| 100% |' in table  # decode against itself
    for name in ('mmpretrain', 'ours', 'timm'):
        assert f'- {name}: ' in table


def test_classifier_step_is_like_for_like(tmp_path):
    """trainstep cases: our class-token classifier and transformers'
    CvtForImageClassification load the same weights and give the same
    logits; the worker runs forward, loss, backward and AdamW."""
    pytest.importorskip('transformers')
    import torch
    arch = benchmark.parse_arch(TINY)
    weights = str(tmp_path / 'cls.pth')
    benchmark.save_reference_weights(arch, weights, num_labels=1000)
    spec = dict(arch=arch, weights=weights, mode='train_cls', batch=2, h=48,
                w=40, dtype='fp32', device='cpu', warmup=0, iters=1)
    ours = benchmark.build_model(dict(spec, variant='ours')).eval()
    theirs = benchmark.build_model(dict(spec, variant='theirs')).eval()
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        a = benchmark._forward_fn(ours, 'ours')(x)
        b = benchmark._forward_fn(theirs, 'theirs')(x)
    assert a.shape == b.shape == (2, 1000)
    assert (a - b).abs().max() <= 1e-4
    for dtype in ('fp32', 'bf16'):
        res = benchmark.run_worker(dict(spec, variant='ours', dtype=dtype,
                                        profile=True))
        assert len(res['times']) == 1 and res['mem_mb'] >= 0
        assert res['profile'] and 0 < res['profile'][0]['share'] <= 1


@pytest.mark.slow
def test_trainloop_case_runs_tools_train(jpegs, tmp_path):
    """A real tools/train.py run of the classification config on the JPEGs
    with a loader worker and the zero-cost model."""
    res = benchmark.run_trainloop(jpegs, workers=1, batch=2,
                                  tmp=str(tmp_path), epochs=2)
    assert 'error' not in res, res
    assert res['images_per_s'] > 0 and res['iterations'] == 3
    assert res['data_time'] >= 0
