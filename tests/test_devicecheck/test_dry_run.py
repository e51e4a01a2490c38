"""The GPU device check's dry run, end to end through its command line, so
the check cannot rot between the GPU hosts it is run on.

The stage caps are scaled up here: the test is about every stage's code
running to its end, not about this machine's speed (a shared CI machine
can be several times slower than the 3 minutes the dry run takes alone;
the README gives that figure, measured)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tool_runner import ROOT


@pytest.mark.slow
def test_dry_run_runs_every_stage_and_reports_the_targets(tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=sys.executable,
               # the packages of this environment, not a carried bundle
               CVT_GPU_BUNDLE=str(tmp_path / 'no_bundle'))
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'gpu', 'device_check.sh'), str(out),
         '--dry-run', '--cap-scale', '5', '--budget', '900'], cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=1200)
    results = json.loads((out / 'results.json').read_text())
    stages = results['stages']
    assert proc.returncode == 0, {n: s['summary'] for n, s in stages.items()}
    # every stage ran to its end
    assert list(stages) == ['env', 'correctness', 'amp', 'speed_infer',
                            'speed_train', 'loop']
    assert all(s['status'] == 'ok' for s in stages.values())
    assert results['dry_run'] is True and results['cap_scale'] == 5
    # one result line per stage on the console
    for name in stages:
        assert f'[{name}] ok' in proc.stdout

    fig = {n: s['figures'] for n, s in stages.items()}
    # correctness: backbone, classifier and (mmseg is installed here) the
    # segmenter compared; kernels seen in all three CvT stages
    assert {'backbone', 'classifier', 'segmenter', 'fuse',
            'compile'} <= set(fig['correctness'])
    assert all(fig['correctness']['checks'].values()), \
        fig['correctness']['checks']
    infer = [k for k in fig['correctness']['sdpa_kernels']
             if k['mode'] == 'inference']
    assert {'stage0', 'stage1', 'stage2'} <= set(infer[0]['kernels'])
    # AMP: three runs, the loss scaler's count recorded
    assert set(fig['amp']['runs']) == {'fp32', 'fp16', 'bf16'}
    assert fig['amp']['runs']['fp16']['skipped_steps'] >= 0
    # speed: ours and theirs at every case; with_cp in training
    variants = {(r['case'], r['variant']) for r in fig['speed_infer']['rows']
                if 'time_s' in r}
    assert {('infer1024', 'theirs'), ('infer800x1333', 'ours')} <= variants
    assert {r['variant'] for r in fig['speed_train']['rows']} == \
        {'ours', 'ours_cp', 'theirs'}
    # the real loop: tools/train.py's iterations and the loader cores
    assert fig['loop']['loop']['iterations'] > 0
    assert fig['loop']['cores_needed'] >= 2

    cases = {t['case'] for t in results['targets']}
    assert {'infer1024 b1 fp32', 'infer800x1333 b1 bf16',
            'tools/train.py configs/cvt13_classify.py'} <= cases
    md = (out / 'report.md').read_text()
    for section in ('## Stages', '## Targets', '## Checks', '## Correctness',
                    '## Mixed precision', '## Inference', '## Training step',
                    '## Training loop', '## Environment'):
        assert section in md
    assert sorted(p.name for p in out.iterdir()) == [
        'console.log', 'install.log', 'logs.txt', 'report.md',
        'results.json']
