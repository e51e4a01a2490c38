"""The query-chunked attention of the export (cvt_backbone.deploy.attention):
a tiny CvT backbone exported with a small score budget, so every stage's
attention runs in several chunks at the sizes checked; onnxruntime must
give torch's (unchunked, BatchNorms unfolded) stage maps, and the graph
must compute its attention only inside ``Scan`` bodies, one chunk of
queries at a time."""
import pytest
import torch
import torch.nn.functional as F

from cvt_backbone import CvT, deploy
from cvt_backbone.deploy.attention import ChunkedAttention
from cvt_backbone.testing import TINY_DENSE_ARCH, randomise_bn

from oracles import ort_outputs

BUDGET = 2**10  # score elements per chunk: 64x64 stage 0 needs 64 chunks


@pytest.fixture(scope='module')
def chunked_export(tmp_path_factory):
    torch.manual_seed(0)
    model = randomise_bn(CvT(TINY_DENSE_ARCH, out_norm=True)).eval()
    path = str(tmp_path_factory.mktemp('onnx') / 'chunked.onnx')
    report = deploy.export_onnx(model, path, input_size=(64, 64),
                                attention='chunked', budget=BUDGET,
                                check_shapes=[(1, 3, 97, 61)])
    return model, path, report


@pytest.mark.parametrize('shape', [(1, 3, 97, 61), (2, 3, 80, 48)])
def test_chunked_graph_matches_torch(chunked_export, shape):
    model, path, report = chunked_export
    assert report.attention == 'chunked'
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    got = list(ort_outputs(path, x).values())
    with torch.no_grad():
        want = model(x)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape)
        assert float((torch.as_tensor(g) - w).abs().max()) < 1e-4


def test_attention_is_only_inside_scan_bodies(chunked_export):
    """No Softmax (the score matrix's) outside a Scan: the full-query
    attention is not in the graph; one Scan per attention."""
    import onnx
    _, path, _ = chunked_export
    graph = onnx.load(path).graph
    top = [n.op_type for n in graph.node]
    assert 'Softmax' not in top
    scans = [n for n in graph.node if n.op_type == 'Scan']
    assert len(scans) == sum(TINY_DENSE_ARCH['depths'])
    for scan in scans:
        body = onnx.helper.get_attribute_value(scan.attribute[0])
        assert 'Softmax' in [n.op_type for n in body.node]


def test_chunked_attention_equals_sdpa_with_uneven_chunks():
    """7 chunks of a 50-query input (padded to 56): torch's SDPA."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, t, 8, generator=g) for t in (50, 13, 13))
    core = ChunkedAttention(0.3, budget=2 * 3 * 8 * 13)
    out = core(q, k, v)
    want = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    assert out.shape == want.shape
    assert float((out - want).abs().max()) < 1e-5


def test_bad_attention_or_budget_is_refused(tmp_path):
    with pytest.raises(ValueError, match='attention'):
        deploy.export_onnx(CvT(TINY_DENSE_ARCH), str(tmp_path / 'x.onnx'),
                           attention='flash')
    with pytest.raises(ValueError, match='budget'):
        ChunkedAttention(0.1, budget=0)
