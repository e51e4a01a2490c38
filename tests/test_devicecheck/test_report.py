"""The device check's target logic, report, bundle plan and kernel
attribution, on made-up figures and a tiny CvT (the whole check runs in
test_dry_run.py)."""
import math
import zipfile

import pytest
import torch

from cvt_backbone.devicecheck import bundle, plan, report
from cvt_backbone.devicecheck.common import (
    sdpa_kernel_name,
    sdpa_kernels_by_stage,
)
from cvt_backbone.devicecheck.loop import cores_needed


def row(case, batch, dtype, variant, time_s=None, peak_mb=None, error=None):
    r = dict(case=case, batch=batch, h=1024, w=1024, dtype=dtype,
             variant=variant)
    if error:
        r['error'] = error
    else:
        r.update(time_s=time_s, images_per_s=batch / time_s, peak_mb=peak_mb)
    return r


def results_with(infer=(), train=(), loop=None, dry_run=False):
    stages = dict(
        speed_infer=dict(status='ok', figures=dict(rows=list(infer))),
        speed_train=dict(status='ok', figures=dict(rows=list(train))))
    if loop is not None:
        stages['loop'] = dict(status='ok', figures=loop)
    return dict(stages=stages, dry_run=dry_run)


def by_case(lines):
    return {t['case']: t for t in lines}


def test_inference_target_needs_5x_speed_and_at_most_10_percent_memory():
    res = results_with(infer=[
        row('infer1024', 1, 'fp32', 'ours', 0.1, 50.),   # 6x, 5%: pass
        row('infer1024', 1, 'fp32', 'theirs', 0.6, 1000.),
        row('infer1024', 1, 'bf16', 'ours', 0.1, 50.),   # 4x: fail
        row('infer1024', 1, 'bf16', 'theirs', 0.4, 1000.),
        row('infer800x1333', 8, 'fp32', 'ours', 0.1, 200.),  # 20%: fail
        row('infer800x1333', 8, 'fp32', 'theirs', 0.6, 1000.),
        row('infer800x1333', 8, 'bf16', 'ours', 0.1, 50.),
        row('infer800x1333', 8, 'bf16', 'theirs', error='out of memory'),
        row('infer224', 256, 'fp32', 'ours', 0.1, 50.),  # not a target case
        row('infer224', 256, 'fp32', 'theirs', 0.1, 50.),
    ])
    lines = by_case(report.infer_targets(res))
    assert set(lines) == {'infer1024 b1 fp32', 'infer1024 b1 bf16',
                          'infer800x1333 b8 fp32', 'infer800x1333 b8 bf16'}
    assert lines['infer1024 b1 fp32']['passed'] is True
    assert lines['infer1024 b1 fp32']['speedup'] == pytest.approx(6.)
    assert lines['infer1024 b1 fp32']['memory_ratio'] == pytest.approx(.05)
    assert lines['infer1024 b1 bf16']['passed'] is False
    assert lines['infer800x1333 b8 fp32']['passed'] is False
    # transformers out of memory: not judged, and said why
    oom = lines['infer800x1333 b8 bf16']
    assert oom['passed'] is None and 'out of memory' in oom['note']


def test_inference_target_is_not_judged_without_memory_figures():
    res = results_with(infer=[row('infer1024', 1, 'fp32', 'ours', 0.1),
                              row('infer1024', 1, 'fp32', 'theirs', 0.9)])
    (line, ) = report.infer_targets(res)
    assert line['passed'] is None and 'memory' in line['note']


def test_training_target_is_bf16_batch_256_throughput():
    def res(ours_s, theirs_s):
        return results_with(train=[
            row('train224', 256, 'bf16', 'ours', ours_s),
            row('train224', 256, 'bf16', 'ours_cp', 10 * ours_s),
            row('train224', 256, 'bf16', 'theirs', theirs_s),
            row('train224', 256, 'fp32', 'ours', 100.),
            row('train224', 256, 'fp32', 'theirs', 1.)])
    good = report.train_target(res(1.0, 1.6))
    assert good['passed'] is True and good['speedup'] == pytest.approx(1.6)
    assert report.train_target(res(1.0, 1.4))['passed'] is False
    missing = report.train_target(results_with())
    assert missing['passed'] is None and 'not measured' in missing['note']


def test_loop_target_is_data_wait_under_5_percent_with_cores_needed():
    def res(share):
        return results_with(loop=dict(
            loop=dict(data_wait_share=share, workers=16,
                      compute_images_per_s=3600.),
            pipeline_one_core=dict(images_per_s=280.), cores_needed=14))
    assert report.loop_target(res(0.03))['passed'] is True
    slow = report.loop_target(res(0.20))
    assert slow['passed'] is False and slow['cores_needed'] == 14
    assert '14 cores' in slow['note']
    assert report.loop_target(results_with())['passed'] is None


def test_cores_needed_is_device_rate_over_one_core_plus_the_trainer():
    assert cores_needed(3600., 280.) == math.ceil(3600 / 280) + 1 == 14
    assert cores_needed(280., 280.) == 2


def test_report_renders_partial_results_and_names_a_broken_section():
    res = results_with(infer=[row('infer1024', 1, 'fp32', 'ours', 0.1, 5.),
                              row('infer1024', 1, 'fp32', 'theirs', 1., 100.)])
    res['stages']['amp'] = dict(status='timeout', figures=dict(runs='bad'))
    res['targets'] = report.evaluate_targets(res)
    md = report.render_markdown(res)
    assert '| infer1024 b1 fp32 | 10.00x, 5.0% memory | PASS |' in md
    assert '(amp: not rendered: ' in md
    assert '## Inference' in md and '| timeout |' in md


def make_wheel(path, files):
    with zipfile.ZipFile(path, 'w') as z:
        for name in files:
            z.writestr(name, '')
    return str(path)


def test_bundle_reads_top_level_modules_and_installs_only_what_is_missing(
        tmp_path):
    wheel = make_wheel(tmp_path / 'model_index-0.1.11-py3-none-any.whl', [
        'modelindex/__init__.py', 'tests/test_x.py', 'six.py',
        'model_index-0.1.11.dist-info/RECORD'])
    assert bundle.top_level_modules(wheel) == ['modelindex', 'six']
    entries = [
        dict(bundle.wheel_meta(wheel), top_level=['modelindex', 'six'],
             file='a.whl'),
        dict(name='mmcv_lite', python='py2.py3', abi='none', platform='any',
             top_level=['mmcv'], file='b.whl'),
        dict(name='kiwisolver', python='cp12x', abi='cp12x',
             platform='manylinux', top_level=['kiwisolver'], file='c.whl')]
    have = {'six', 'mmcv'}
    p = bundle.plan_install(dict(wheels=entries), importable=have.__contains__)
    assert [e['name'] for e in p['install']] == ['model_index']
    assert [e['name'] for e in p['present']] == ['mmcv_lite']
    # a compiled wheel for another Python is not installed, but reported
    assert [e['name'] for e in p['unfit']] == ['kiwisolver']


def test_plan_selects_stages_in_order_and_names_unknown_ones():
    assert plan.select(['loop', 'env']) == ['env', 'loop']
    with pytest.raises(ValueError, match='unknown stage.*speed_infer'):
        plan.select(['nope'])
    full, dry = plan.stage_spec('amp', False), plan.stage_spec('amp', True)
    assert (full['device'], dry['device']) == ('cuda', 'cpu')
    assert full['steps'] == 300


def test_sdpa_kernel_names():
    assert sdpa_kernel_name('aten::_scaled_dot_product_flash_attention') == \
        'flash'
    assert sdpa_kernel_name(
        'aten::_scaled_dot_product_flash_attention_for_cpu_backward') == \
        'flash_cpu'
    assert sdpa_kernel_name(
        'aten::_scaled_dot_product_efficient_attention') == 'efficient'
    assert sdpa_kernel_name('aten::_scaled_dot_product_attention_math') == \
        'math'
    assert sdpa_kernel_name('aten::scaled_dot_product_attention') is None


@pytest.mark.parametrize('backend,name', [('MATH', 'math'),
                                          ('FLASH_ATTENTION', 'flash_cpu')])
def test_kernels_are_attributed_to_each_cvt_stage(backend, name):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from cvt_backbone.models import CvT
    model = CvT(plan.DRY_ARCH).eval()
    x = torch.randn(1, 3, 48, 48)

    def run():
        with torch.no_grad(), sdpa_kernel([getattr(SDPBackend, backend)]):
            model(x)
    found = sdpa_kernels_by_stage(model, run)
    # one attention call per block; the last stage's class token adds one
    assert found == {'stage0': {name: 1}, 'stage1': {name: 2},
                     'stage2': {name: 6}}
