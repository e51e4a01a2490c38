"""A whole benchmark run on a tiny CvT at tiny sizes: rows, ratios and the
table (not a timing test)."""
import json

import pytest

from cvt_backbone.benchmark import run_benchmark


@pytest.mark.slow
def test_onnx_rows_and_ratios_in_the_table(tmp_path, tiny_arch):
    out = tmp_path / 'bench'
    run_benchmark(str(out), arch=tiny_arch, cases=['infer224', 'train224'],
                  sizes=dict(infer224=dict(batch=2, h=48, w=64),
                             train224=dict(batch=2, h=32, w=32)),
                  variants=['ours', 'ours_unfused', 'ours_onnx'],
                  dtypes=['fp32'], repeats=1, iters=1, warmup=0,
                  peak_size=64)
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
