"""The attention core as exported: query-chunked, so the graph never holds
the whole ``T_q x T_kv`` matrix of a large input.

``F.scaled_dot_product_attention`` exports as ``MatMul -> Softmax ->
MatMul`` (opset 18) or ONNX's ``Attention`` (opset 23), and onnxruntime's
CPU kernels of both compute the whole score matrix: at 1024x1024 the first
CvT-13 stage has 65,536 queries x 16,384 keys, 4 GiB per copy, and the
graph ran in 17 GB (docs/benchmark_onnx). Eager torch does not, because its
CPU kernel is a flash attention.

:class:`ChunkedAttention` splits the queries into ``n`` equal chunks and
attends chunk by chunk inside one ``torch.ops.higher_order.scan``, which
torch.onnx writes as an ONNX ``Scan`` (a standard op since opset 9; its
body is the usual MatMul/Softmax or Attention). ``n`` is computed in the
graph from the input's shape, ``ceil(B * heads * T_q * T_kv / budget)``,
so one file runs at any batch and size, a small input is one chunk (the
plain attention) and each chunk's score matrix holds at most about
``budget`` elements. The queries are zero-padded to ``n`` equal chunks
(fewer than ``n`` rows) and the padding's outputs dropped.

Ours rather than a library's: onnxruntime's contrib ``MultiHeadAttention``
is read by onnxruntime only, and neither torch.onnx nor onnxscript offers a
chunked attention.
"""
import torch.nn.functional as F
from torch import Tensor, nn
from torch._higher_order_ops.scan import scan

# elements of one chunk's score matrix: 2**22 fp32 = 16 MiB. Measured
# (CvT-13 backbone, onnxruntime, 2 threads): at 1024x1024 the session run
# adds 723 MiB at 2**22 against 970 MiB at 2**24, in the same 2.5 s; at
# 224 px batch 32 it runs in 1.45 s, against 1.35 s for the full-matrix
# export (one chunk inside a Scan was slower still: 1.66 s)
DEFAULT_BUDGET = 2**22


class ChunkedAttention(nn.Module):
    """``F.scaled_dot_product_attention(q, k, v, scale=scale)`` computed
    over chunks of the queries (inference only, no dropout).

    ``q`` ``[B, heads, T_q, d]``, ``k`` and ``v`` ``[B, heads, T_kv, d]``
    -> ``[B, heads, T_q, d]``.
    """

    def __init__(self, scale: float, budget: int = DEFAULT_BUDGET) -> None:
        super().__init__()
        if budget < 1:
            raise ValueError(f'budget must be a positive number of score '
                             f'matrix elements, got {budget!r}')
        self.scale = scale
        self.budget = budget

    def extra_repr(self) -> str:
        return f'scale={self.scale:.4g}, budget={self.budget}'

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        B, heads, T, d = q.shape
        T_kv = k.shape[2]
        n = (B * heads * T * T_kv + self.budget - 1) // self.budget
        rows = (T + n - 1) // n
        q = F.pad(q, (0, 0, 0, n * rows - T))
        chunks = q.unflatten(2, (n, rows)).movedim(2, 0)  # [n, B, h, rows, d]
        scale = self.scale
        # CvT's k and v are views of one tensor; scan refuses aliased
        # inputs (in the graph this is an Identity)
        k, v = k.clone(), v.clone()

        def attend(carry: Tensor, chunk: Tensor):
            # k and v are lifted into the Scan body as its outer inputs;
            # the carry is a dummy (scan needs one)
            return carry.clone(), F.scaled_dot_product_attention(
                chunk, k, v, scale=scale)

        _, out = scan(attend, q.new_zeros(()), chunks)
        return out.movedim(0, 2).flatten(2, 3)[:, :, :T]


def replace_attention_cores(model: nn.Module,
                            budget: int = DEFAULT_BUDGET) -> int:
    """Give every CvT ``ConvAttention`` of ``model`` a
    :class:`ChunkedAttention` core (its ``sdpa``); returns how many."""
    from ..models.backbones.cvt import ConvAttention
    count = 0
    for module in model.modules():
        if isinstance(module, ConvAttention):
            # an instance attribute shadows the method ConvAttention._attend
            # calls (nn.Module.__setattr__ would register a submodule that
            # the class's method hides); the core has no parameters
            module.__dict__['sdpa'] = ChunkedAttention(module.scale, budget)
            count += 1
    return count
