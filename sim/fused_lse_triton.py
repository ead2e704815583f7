"""The Triton kernel behind `sim.fused_lse` (which owns the math, the operands and the
launches; this module imports Triton, so it is imported only where a GPU or Triton's
interpreter will run it).

`softmax_pass`: for each row i of a block of BLOCK_M rows, walks the columns j in blocks of
BLOCK_N with a running maximum and writes lse_i = log sum_j exp(S_ij) (natural units) and
sum_j softmax_ij V_j, where S_ij log2(e) = Q_i.K_j (j = i left out when EXCLUDE_SELF). The products run on tensor cores in TF32; the operands arrive
split into high and low TF32 parts (`sim.fused_lse`), and the softmax weights are split here,
so that the products keep float32's precision.
The tile S lives in registers only, never in memory.
"""

import triton
import triton.language as tl


@triton.jit
def softmax_pass(
    Q,  # (N, D) row operands of the logits
    K,  # (N, D) column operands of the logits, the column offsets included
    V,  # (N, DV) the vectors averaged
    lse,  # (N,) out: log sum_j exp(S_ij)
    mean,  # (N, DV) out: sum_j softmax_ij V_j
    N,
    first_row,
    D: tl.constexpr,
    DV: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    EXCLUDE_SELF: tl.constexpr,
):
    row_start = first_row + tl.program_id(0) * BLOCK_M
    rows = row_start + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, D)
    vdims = tl.arange(0, DV)
    row_ok = rows < N
    q = tl.load(Q + rows[:, None] * D + dims[None, :], mask=row_ok[:, None], other=0.0)
    top = tl.full((BLOCK_M,), -1.0e30, tl.float32)  # finite: exp2(top - new top) is 0, never NaN
    total = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, DV), tl.float32)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        k = tl.load(K + cols[:, None] * D + dims[None, :], mask=col_ok[:, None], other=0.0)
        v = tl.load(V + cols[:, None] * DV + vdims[None, :], mask=col_ok[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision="tf32")  # the offsets ride in K's last columns
        if start + BLOCK_N > N:  # the last block: columns past N count for nothing
            s = tl.where(col_ok[None, :], s, float("-inf"))
        if EXCLUDE_SELF:  # noqa: SIM102  (a compile-time branch around a run-time one)
            if (start < row_start + BLOCK_M) & (start + BLOCK_N > row_start):  # blocks on the diagonal only
                s = tl.where(rows[:, None] == cols[None, :], float("-inf"), s)
        new_top = tl.maximum(top, tl.max(s, axis=1))
        scale = tl.exp2(top - new_top)
        p = tl.exp2(s - new_top[:, None])
        total = total * scale + tl.sum(p, axis=1)
        # p split as the operands are (sim.fused_lse.split_tf32): a tensor core reads p_high exactly,
        # p - p_high to about 2^-22 of p; p alone in TF32 lost 2^-11 (4e-4 in the gradient on an H200)
        p_high = (p.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
        acc = acc * scale[:, None] + tl.dot(p_high, v, input_precision="tf32")
        acc += tl.dot(p - p_high, v, input_precision="tf32")
        top = new_top
    tl.store(lse + rows, (top + tl.log2(total)) * 0.6931471805599453, mask=row_ok)
    tl.store(mean + rows[:, None] * DV + vdims[None, :], acc / total[:, None], mask=row_ok[:, None])
