"""The repulsion term of the contrastive losses on a GPU: mean_a phi(l_a), l_a = logsumexp_b S_ab,
S_ab = R_a.R_b / tau + u_a + u_b, and its gradient, in two passes of one Triton kernel that
never write a tile of S to memory (the tiled torch path in `sim.losses` writes and reads each
tile several times, which bounds it by memory traffic on a GPU).

The kernel, for every row i, walks all columns j with a running maximum (as flash attention
does) and returns log sum_j exp(R_i.R_j / tau + c_j) and the softmax-weighted mean of the R_j,
for a column offset c; j = i is left out when `exclude_self`. With w_a = phi'(l_a) / N:
  pass 1, c = u:                    l_a, and the row part of the gradient, w_a (R-mean_a / tau, 1);
  pass 2, c = u - l + log w:        since S is symmetric, sum_a w_a softmax_a(S)_b (R_a / tau, 1),
                                    the column part, is exp(u_b + lse_b) (R-mean_b / tau, 1).
Used for float32 tensors on CUDA when Triton is installed (it comes with torch's CUDA builds),
and on the CPU only under Triton's interpreter (TRITON_INTERPRET=1: how the tests check it).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os

import torch

LOG2E = 1.0 / math.log(2.0)
# The kernel's shape: rows per program, columns per inner step, warps per program. Timed on an
# H200 at 1M views (bench/cuda_check.py, one pass of the softmax): 64 x 64 x 4 0.96 s, 128 x 64
# x 4 0.98 s (but it spills registers), 128 x 64 x 8 1.42 s.
BLOCK_ROWS = 64
BLOCK_COLUMNS = 64
NUM_WARPS = 4
# Rows per launch on a GPU when no chunk is asked for: enough programs to fill the device,
# few enough launches that a long loss still reports progress (and can be stopped) between them.
LAUNCH_ROWS = 2**17
TF32_MASK = -(1 << 13)  # float32 bits kept by TF32: sign, exponent, 10 of the 23 mantissa bits


# Off: every device takes the torch path (the benchmark's side-by-side row, a suspected kernel).
ENABLED = True


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def usable(R: torch.Tensor) -> bool:
    """Whether the fused kernels serve rows R: float32 on CUDA (or the CPU, interpreted), with
    Triton installed (the CPU builds of torch come without it: the torch path serves them)."""
    return ENABLED and R.dtype == torch.float32 and (R.is_cuda or interpreted()) and _kernel() is not None


@functools.cache
def _kernel():
    """The Triton kernel (compiled on its first launch), or None without Triton; imported only
    here, so that runs on the CPU never load Triton."""
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # multiply-adds fused, said aloud (Triton 3.9 asks)
    try:
        from sim.fused_lse_triton import softmax_pass
    except ImportError:
        return None
    return softmax_pass


def _launch_rows(N: int, device: torch.device, chunk: int | None) -> int:
    rows = chunk if chunk is not None else (LAUNCH_ROWS if device.type == "cuda" else N)
    return max(BLOCK_ROWS, -(-min(rows, N) // BLOCK_ROWS) * BLOCK_ROWS)


def split_tf32(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x = high + low, `high` with the 10 mantissa bits TF32 keeps (the rest zeroed), so a
    tensor core reads it exactly; `low`, read as TF32, keeps x to about 2^-21."""
    high = (x.view(torch.int32) & TF32_MASK).view(torch.float32)
    return high, x - high


def _padded(parts: list[torch.Tensor]) -> torch.Tensor:
    """The column blocks side by side, zero-padded to a power of two of at least 16 columns
    (what a tensor-core product takes)."""
    N = parts[0].shape[0]
    width = sum(p.shape[1] for p in parts)
    out = torch.zeros(N, max(16, 1 << (width - 1).bit_length()), dtype=parts[0].dtype, device=parts[0].device)
    torch.cat(parts, dim=1, out=out[:, :width])
    return out


def operands(R: torch.Tensor, tau: float) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """The kernel's Q, the parts of K but the offsets' columns, and V, for rows R: with
    R log2(e) / tau = a + a' and R = b + b' split into TF32 parts, Q = [a, a, a', 1, 1] and
    K = [b, b', b, c, c'] make Q.K = S log2(e) + c (c + c', a column offset, split too) up to
    the a'.b' term (~2^-22), in one TF32 product: the three-term split that keeps float32's
    precision, packed into the columns a small m leaves as padding. V = [b, b'] returns the
    mean in two halves."""
    a, a_low = split_tf32(R * (LOG2E / tau))
    b, b_low = split_tf32(R)
    ones = torch.ones(R.shape[0], 2, dtype=R.dtype, device=R.device)
    return _padded([a, a, a_low, ones]), [b, b_low, b], _padded([b, b_low])


def with_offset(K_parts: list[torch.Tensor], offset: torch.Tensor) -> torch.Tensor:
    """K for one pass: its parts, then the column offsets (natural units) times log2(e), split."""
    high, low = split_tf32(offset * LOG2E)
    return _padded([*K_parts, high[:, None], low[:, None]])


def mean_log_sum_exp(
    R: torch.Tensor,
    u: torch.Tensor | None,
    tau: float,
    exclude_self: bool,
    phi: str,
    chunk: int | None,
    want_grad: bool,
    on_tile,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(mean_a phi(l_a), its gradient by R, by u) with the gradients None unless `want_grad`;
    `chunk` rows per launch (None: LAUNCH_ROWS), `on_tile(done, N)` called between launches."""
    N, m = R.shape
    Q, K_parts, V = operands(R, tau)
    zero = torch.zeros(N, dtype=R.dtype, device=R.device)
    u_ = zero if u is None else u
    step = _launch_rows(N, R.device, chunk)
    launches = -(-N // step) * (2 if want_grad else 1)
    done = [0]

    def softmax_pass(offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lse = torch.empty(N, dtype=R.dtype, device=R.device)
        mean = torch.empty(N, V.shape[1], dtype=R.dtype, device=R.device)
        K = with_offset(K_parts, offset)
        for first in range(0, N, step):
            grid = (-(-min(step, N - first) // BLOCK_ROWS),)
            with torch.cuda.device(R.device) if R.is_cuda else contextlib.nullcontext():  # Triton launches there
                _kernel()[grid](
                    Q, K, V, lse, mean, N, first, Q.shape[1], V.shape[1], BLOCK_ROWS, BLOCK_COLUMNS,
                    exclude_self, num_warps=NUM_WARPS,
                )  # fmt: skip
            done[0] += 1
            if on_tile is not None:
                on_tile(N * done[0] // launches, N)
        return lse, mean[:, :m] + mean[:, m : 2 * m]

    lse, row_mean = softmax_pass(u_)
    ell = lse + u_
    wide = ell.double()
    value = (wide.exp().mean() if phi == "exp" else wide.mean()).to(R.dtype)
    if not want_grad:
        return value, None, None
    w = ell.exp() / N if phi == "exp" else torch.full_like(ell, 1.0 / N)
    column_lse, column_mean = softmax_pass(u_ - ell + w.log())
    column_weight = (column_lse + u_).exp()
    grad_R = (w / tau)[:, None] * row_mean + (column_weight / tau)[:, None] * column_mean
    grad_u = w + column_weight
    return value, grad_R, grad_u
