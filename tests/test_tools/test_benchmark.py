"""tools/analysis_tools/benchmark.py: the command line runs both
implementations and writes table.md, results.json and plot.png (a tiny CvT
at a tiny size; not a timing test)."""
import json
import sys

import pytest

from tool_runner import run_tool

TINY = json.dumps(dict(embed_dims=[16, 32, 64], depths=[1, 2, 3],
                       num_heads=[1, 2, 2]))


def test_runs_both_implementations_and_writes_outputs(tmp_path):
    pytest.importorskip('transformers')
    pytest.importorskip('matplotlib')
    out = tmp_path / 'bench'
    proc = run_tool([
        sys.executable, 'tools/analysis_tools/benchmark.py',
        '--out', str(out), '--arch', TINY, '--cases', 'infer512',
        '--size', 'infer512=1x48x64', '--variants', 'ours', 'theirs',
        '--dtypes', 'fp32', '--repeats', '1', '--iters', '1', '--warmup', '0',
        '--peak-size', '64'])
    assert proc.returncode == 0, proc.stderr[-2000:]
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

