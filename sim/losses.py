"""Contrastive losses on unit vectors: NT-Xent (SimCLR, paper eq 1) and the generalized
Gaussian-similarity loss (paper eq 4-5), in memory linear in the number of rows.

Views arrive as a (V, n, m) tensor: V views of n samples. Views of one sample are
positives, every other row is a negative. With V = 2 `views_nt_xent` is exactly NT-Xent;
with more views each row averages its V - 1 positives.

Scale: with N = V n rows, no N x N matrix is ever held. The positive (attraction) terms
take O(N m) through each sample's sum of views; the repulsion terms go through
`_TiledLogSumExp`, which walks the similarity matrix a tile of `chunk` full rows at a time,
keeps each row's log-sum-exp and, when a gradient is wanted, accumulates the gradient in
the same pass (every tile is built and exponentiated once), so memory is O(N chunk) and
the backward pass only scales the stored O(N m) gradient. `chunk=None` picks the rows per
tile from a byte budget (TILE_BYTES); every chunk gives the same values up to round-off.
On a GPU (float32 with Triton, which torch's CUDA builds bring) the same two sums come from
`sim.fused_lse` instead: two passes of one Triton kernel that keep each tile in registers
(checked against the torch tiles at its first use on a device; the torch tiles serve if it
fails there). On the CPU in float32 from SYMMETRIC_MIN_ROWS rows, a loop compiled from C
(`sim.cpu_kernel`) serves where one shift fits every row: it walks half the (symmetric)
matrix in strips of at most STRIP_ROWS rows (`chunk` caps the strip), once for the sums and
once for the gradient, each exponential serving its row and its column, in registers.
`on_tile(done, total)`, if given, is called after each tile with the rows done so far: for
progress, and to stop a long loss by raising from it (nothing is changed by a stopped loss).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import warnings
from collections.abc import Callable

import torch

from sim import cpu_kernel, fused_lse

TileHook = Callable[[int, int], None]

PSI = ("log", "linear")
LOG2E = 1.0 / math.log(2.0)
LN2 = math.log(2.0)
# Bytes of one tile of the similarity matrix: small enough on the CPU to stay in cache between
# the passes over it (measured best on 2 cores: 2 MiB with a thread per core, 5% before 4 MiB),
# large on a GPU to keep launches few.
TILE_BYTES = {"cuda": 2**30}
DEFAULT_TILE_BYTES = 2 * 2**20
MIN_TILE_ROWS = 8
# The tiles' logits Q K have m + 1 or m + 2 terms; fewer than INNER_MIN are padded with zero
# terms to INNER_MIN: the CPU's matrix product took 104 us for 512 x 3 by 3 x 512, 56 us at 8
# (torch 2.13, AVX-512), with the same numbers bit for bit.
INNER_MIN = 8
# On the CPU, from PARALLEL_MIN_ROWS rows on, the tiles are cut into TILE_GROUPS groups (each
# with its own column sums, added in group order: the numbers do not depend on the thread
# count) shared out to TILE_THREADS threads: measured 1.87x on 2 cores where torch's own
# threads inside each operation give 1.3x.
PARALLEL_MIN_ROWS = 4096
TILE_GROUPS = 8
TILE_THREADS = os.cpu_count() or 1
# On the CPU in float32, from SYMMETRIC_MIN_ROWS rows on, the compiled loop of sim.cpu_kernel
# serves (when it builds): one shift for every row, so the logits are symmetric and each
# exponential serves its row and its column. It needs every row's largest term within
# SYMMETRIC_GAP (natural log units) of the common shift; otherwise the torch tiles serve.
SYMMETRIC_MIN_ROWS = PARALLEL_MIN_ROWS
SYMMETRIC_GAP = 40.0
# The loop is for thin embeddings (its per-column sums sit on the stack, (m + 1) x 4 KiB); wide
# ones have the torch tiles' matrix products do the work.
SYMMETRIC_MAX_DIMS = 16
LOWEST_LOGIT2 = 120.0  # the compiled loop's 2^z is exact in form down to z = -125
STRIP_ROWS = 128


def _tile_rows(N: int, R: torch.Tensor, chunk: int | None) -> int:
    """Rows per tile: `chunk` if given, else as many as fit the device's tile budget."""
    if chunk is not None:
        if chunk < 1:
            raise ValueError(f"chunk: expected a positive number of rows, got {chunk}")
        return min(chunk, N)
    budget = TILE_BYTES.get(R.device.type, DEFAULT_TILE_BYTES)
    return max(1, min(N, max(MIN_TILE_ROWS, budget // (max(N, 1) * R.element_size()))))


def _exact_max_gap(dtype: torch.dtype) -> float:
    """How far below the shift a row's largest logit may lie before the tile uses each row's
    exact maximum instead: exp(-gap) stays a normal number with digits to spare."""
    return 0.75 * -math.log(torch.finfo(dtype).tiny)


class _TiledLogSumExp(torch.autograd.Function):
    """mean_a phi(l_a) with l_a = logsumexp_b S_ab, S_ab = R_a.R_b / tau + u_a + u_b (b = a left
    out if `exclude_self`), phi = identity or exp; R (N, m), u (N,) or None.

    Each tile of rows A is shifted by a per-row upper bound of its logits (the rows' exact
    maxima where the bound could underflow the largest term, judged by `floor`, a logit known
    to be in each row), exponentiated in place into E, and reduced by two thin matrix
    products: E [R, 1] gives the rows' sums and row gradient, [d R_A / tau, d]^T E the
    column gradient, with d_a = phi'(l_a) / (N s_a). Gradient of the symmetric S:
    dR = (W + W^T) R / tau, du = rowsum W + colsum W, W_ab = phi'(l_a) softmax_b(S_a) / N.
    Where `fused_lse.usable(R)`, the fused kernels compute the same (`floor` is not needed:
    they keep each row's running maximum)."""

    @staticmethod
    def forward(ctx, R, u, tau, exclude_self, phi, floor, chunk, want_grad, on_tile):
        fused = fused_lse.usable(R) and _fused_works(str(R.device))
        args = (R, u, tau, exclude_self, phi, chunk, want_grad, on_tile)
        if fused:
            value, grad_R, grad_u = fused_lse.mean_log_sum_exp(*args)
        elif (plan := _symmetric_plan(R, u, tau, floor)) is not None:
            value, grad_R, grad_u = _symmetric_tiles(*plan, *args)
        else:
            value, grad_R, grad_u = _tiles(*args, floor)
        if want_grad:
            ctx.save_for_backward(grad_R, grad_u)
        ctx.has_u = u is not None
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        grad_R, grad_u = ctx.saved_tensors
        grad_u = grad_output * grad_u if ctx.has_u else None
        return grad_output * grad_R, grad_u, None, None, None, None, None, None, None


@functools.cache
def _fused_works(device: str) -> bool:
    """The fused kernel's first use on a device: it runs against the torch tiles on a small
    problem (both kinds of rows, float32); if it cannot be built or launched there (a missing
    compiler, an old driver) or disagrees, the torch tiles serve this process and a warning
    says why."""
    g = torch.Generator().manual_seed(0)
    R = torch.nn.functional.normalize(torch.randn(300, 3, generator=g), dim=1).to(device)
    u = (torch.randn(300, generator=g) - 3).to(device)
    try:
        for rows, offsets, exclude_self, phi in ((R, None, True, "id"), (R, u, False, "exp")):
            args = (rows, offsets, 0.5, exclude_self, phi, None, True, None)
            fused, tiles = fused_lse.mean_log_sum_exp(*args), _tiles(*args, None)
            for a, b in zip(fused, tiles):
                if not (a is None or torch.allclose(a, b, rtol=1e-4, atol=1e-6)):
                    raise ArithmeticError(f"differs from the torch tiles by {(a - b).abs().max().item():.1e}")
    except Exception as exc:  # noqa: BLE001  (whatever stops the kernel, the torch tiles still serve)
        warnings.warn(f"fused loss kernel not used on {device} ({type(exc).__name__}: {exc}); torch tiles serve")
        return False
    return True


def _tiles(R, u, tau, exclude_self, phi, chunk, want_grad, on_tile, floor):
    """_TiledLogSumExp's value and gradients (None unless `want_grad`) with torch operations."""
    N, m = R.shape
    inv = 1.0 / tau
    norms = R.norm(dim=1)
    shift = norms * (norms.max() * inv)
    if u is not None:
        shift = shift + u + u.max()
    # S_ab - shift_a = Q_a . K_b, with K = [R, 1, u] and Q = [R / tau, u - shift, 1].
    K = [R.T, torch.ones(1, N, dtype=R.dtype, device=R.device)]
    Q = [R * inv, ((u if u is not None else 0) - shift)[:, None]]
    if u is not None:
        K.append(u[None, :])
        Q.append(torch.ones(N, 1, dtype=R.dtype, device=R.device))
    terms = m + len(K) - 1  # K's parts: R^T (m rows), then one row each
    if terms < INNER_MIN:  # zero terms add exactly 0: the same sums, a faster product
        pad = INNER_MIN - terms
        K.append(torch.zeros(pad, N, dtype=R.dtype, device=R.device))
        Q.append(torch.zeros(N, pad, dtype=R.dtype, device=R.device))
    # exp2 runs about twice as fast as exp on the CPU: the tiles hold (S - shift) log2(e).
    K, Q = torch.cat(K).contiguous(), torch.cat(Q, dim=1) * LOG2E
    R1 = K[: m + 1]  # (m + 1, N): R^T with a row of ones
    rows = _tile_rows(N, R, chunk)
    starts = range(0, N, rows)
    if floor is None:
        exact = [True] * len(starts)
    else:  # one flag per tile, read in one transfer: no device sync inside the loop
        far = ((shift - floor) > _exact_max_gap(R.dtype)).long()
        tile = torch.arange(N, device=R.device) // rows
        exact = (torch.zeros(len(starts), dtype=torch.long, device=R.device).index_add_(0, tile, far) > 0).tolist()
    lse = torch.empty(N, dtype=R.dtype, device=R.device)
    grad_R = torch.empty(N, m, dtype=R.dtype, device=R.device) if want_grad else None
    grad_u = torch.empty(N, dtype=R.dtype, device=R.device) if want_grad else None

    def tile(start: int, use_max: bool, buffer: torch.Tensor, columns: torch.Tensor | None) -> None:
        """Rows start.. of every output; the tile's column gradient added to `columns`."""
        stop = min(start + rows, N)
        E = buffer[: stop - start]
        torch.mm(Q[start:stop], K, out=E)
        if exclude_self:
            E[:, start:stop].diagonal().fill_(float("-inf"))
        M = shift[start:stop]
        if use_max:
            top = E.max(dim=1).values
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            E.sub_(top[:, None])
            M = M + top * LN2
        E.exp2_()
        G = torch.mm(R1, E.T)  # (m + 1, rows): sum_b E_ab R_b and s_a
        s = G[m]
        lse[start:stop] = M + s.log()
        if columns is None:
            return
        # d_a = phi'(l_a) / (N s_a): 1 / (N s_a) for phi = id, exp(shift_a) / N for phi = exp.
        d = (M.exp() / N) if phi == "exp" else 1.0 / (N * s)
        grad_R[start:stop] = (d * inv)[:, None] * G[:m].T
        grad_u[start:stop] = d * s
        Y = torch.cat([R[start:stop] * (d * inv)[:, None], d[:, None]], dim=1)
        columns.addmm_(Y.T, E)

    tiles = list(zip(starts, exact))
    groups = 1 if R.device.type != "cpu" or N < PARALLEL_MIN_ROWS else min(TILE_GROUPS, len(tiles))
    bounds = [len(tiles) * g // groups for g in range(groups + 1)]
    parts = [tiles[a:b] for a, b in itertools.pairwise(bounds)]
    columns = [torch.zeros(m + 1, N, dtype=R.dtype, device=R.device) if want_grad else None for _ in parts]
    _run_tiles(parts, columns, tile, lambda: torch.empty(rows, N, dtype=R.dtype, device=R.device), rows, N, on_tile)
    wide = lse.double()
    value = (wide.exp().mean() if phi == "exp" else wide.mean()).to(R.dtype)
    if not want_grad:
        return value, None, None
    total = columns[0]
    for more in columns[1:]:  # in group order: the same sums whatever the number of threads
        total += more
    grad_R += total[:m].T
    grad_u += total[m]
    return value, grad_R, grad_u


def _common_shift(R: torch.Tensor, u: torch.Tensor | None, tau: float) -> tuple[float, float]:
    """(C, lowest): one shift C = max_a (|R_a| max|R| / tau + u_a + max u) at or above every
    logit, and a bound every logit lies above, -max|R|^2 / tau + 2 min u (float64)."""
    with torch.no_grad():
        norms = R.double().norm(dim=1)
        shift = norms * (norms.max() / tau)
        if u is not None:
            shift = shift + u.double() + u.double().max()
        lowest = -(float(norms.max()) ** 2) / tau + (2 * float(u.min()) if u is not None else 0.0)
        return float(shift.max()), lowest


def _symmetric_plan(R, u, tau, floor):
    """(kernel, C) when the compiled symmetric loop can serve these rows: float32 on the CPU, at
    least SYMMETRIC_MIN_ROWS rows of at most SYMMETRIC_MAX_DIMS dimensions, a kernel built (and checked) for this size of logit, and the
    common shift C (`_common_shift`) within SYMMETRIC_GAP of every row's largest logit (at
    least `floor`) and within LOWEST_LOGIT2 (log2 units) of every logit; else None."""
    N, m = R.shape
    if R.device.type != "cpu" or R.dtype != torch.float32 or N < SYMMETRIC_MIN_ROWS or floor is None:
        return None
    if m > SYMMETRIC_MAX_DIMS:
        return None
    C, lowest = _common_shift(R, u, tau)
    if not (C - float(floor.double().min()) <= SYMMETRIC_GAP and (C - lowest) * LOG2E <= LOWEST_LOGIT2):
        return None
    terms = m + (2 if u is not None else 1)
    kernel = cpu_kernel.load(terms, m)
    return None if kernel is None or not _compiled_works(terms, m) else (kernel, C)


@functools.cache
def _compiled_works(terms: int, dims: int) -> bool:
    """The compiled loop's first use for a size of logit: value and gradients on 300 rows
    (float32, tau 0.5, with per-row offsets if `terms` = dims + 2) against the dense float64
    formula; if it disagrees (a compiler that builds other code than meant), a warning says so
    and the torch tiles serve this process."""
    g = torch.Generator().manual_seed(0)
    R = torch.nn.functional.normalize(torch.randn(300, dims, generator=g), dim=1)
    u = torch.randn(300, generator=g) * 0.1 - 3 if terms == dims + 2 else None
    exclude_self, tau = u is None, 0.5
    with torch.enable_grad():  # called from inside an autograd Function's forward
        R64 = R.double().requires_grad_(True)
        u64 = u.double().requires_grad_(True) if u is not None else None
        S = R64 @ R64.T / tau + (u64[:, None] + u64[None, :] if u is not None else 0)
        if exclude_self:
            S = S.masked_fill(torch.eye(300, dtype=torch.bool), float("-inf"))
        value = torch.logsumexp(S, dim=1).mean()
        want = (value, *torch.autograd.grad(value, [R64] + ([u64] if u is not None else [])))
    try:
        got = _symmetric_tiles(
            cpu_kernel.load(terms, dims), _common_shift(R, u, tau)[0], R, u, tau, exclude_self, "id", None, True, None
        )
        for a, b in zip(got, want):
            if not torch.allclose(a.double(), b.detach(), rtol=1e-5, atol=1e-7):
                raise ArithmeticError(f"differs from the float64 formula by {(a.double() - b).abs().max().item():.1e}")
    except Exception as exc:  # noqa: BLE001  (whatever is wrong with the build, the torch tiles still serve)
        warnings.warn(f"compiled CPU loss loop not used ({type(exc).__name__}: {exc}); torch tiles serve")
        return False
    return True


def _symmetric_tiles(kernel, C, R, u, tau, exclude_self, phi, chunk, want_grad, on_tile):
    """_TiledLogSumExp's value and gradients from sim.cpu_kernel: logits z_ab = (S_ab - C) log2 e,
    summed a strip of rows at a time against the columns from the strip on (each exponential
    serves row a and column b). Pass 1 gives s_a = sum_b exp(S_ab - C), l_a = C + log s_a;
    pass 2 (when `want_grad`) the gradient sum_b (W_ab + W_ba) [R_b / tau, 1] with W_ab = d_a
    e_ab, d_a = phi'(l_a) / (N s_a). The strips are grouped by equal work; each group adds its
    mirrored columns to its own sums, added in group order (the same numbers for any thread
    count); the groups are taken by whichever thread is free."""
    N, m = R.shape
    rows = min(STRIP_ROWS if chunk is None else _tile_rows(N, R, chunk), STRIP_ROWS, cpu_kernel.COLUMN_BLOCK)
    with torch.no_grad():
        # z_ab = Q_a . K_b with Q = [R log2(e) / tau, v log2(e), 1], K = [R^T, 1, v log2(e)] and the
        # offsets v = u - C / 2 (or -C on one side, without u): terms near 1 in size, each rounded
        # once from float64, so no large constant's rounding shifts every logit alike.
        R = R.detach().contiguous()
        if u is None:
            v_row, v_column = torch.full((N,), -C * LOG2E, dtype=torch.float64), None
        else:
            v_row = v_column = (u.detach().double() - C / 2) * LOG2E
        Q = [R * (LOG2E / tau), v_row.to(R.dtype)[:, None]] + (
            [torch.ones(N, 1, dtype=R.dtype)] if u is not None else []
        )
        K = [R.T, torch.ones(1, N, dtype=R.dtype)] + ([v_column.to(R.dtype)[None, :]] if u is not None else [])
        Q, K = torch.cat(Q, dim=1).contiguous(), torch.cat(K).contiguous()
    starts = list(range(0, N, rows))
    work = list(itertools.accumulate(N - start for start in starts))
    groups = 1 if N < PARALLEL_MIN_ROWS else min(TILE_GROUPS, len(starts))
    cuts = [0] + [next(i + 1 for i, w in enumerate(work) if w * groups >= work[-1] * g) for g in range(1, groups)]
    cuts.append(len(starts))
    parts = [[(start, False) for start in starts[a:b]] for a, b in itertools.pairwise(cuts)]
    parts = [part for part in parts if part]
    exclude = int(exclude_self)

    def run_pass(width, strip, progress):
        own = torch.zeros(N, width, dtype=torch.float64) if width > 1 else torch.zeros(N, dtype=torch.float64)
        mirrored = [torch.zeros(width, N, dtype=torch.float64) for _ in parts]

        def tile(start, _use_max, _buffer, columns):
            strip(start, min(start + rows, N), own.data_ptr(), columns.data_ptr())

        _run_tiles(parts, mirrored, tile, lambda: None, rows, N, progress)
        total = mirrored[0].clone()
        for more in mirrored[1:]:  # in group order: the same sums whatever the number of threads
            total += more
        return own + (total.T if width > 1 else total[0])

    def halves(first: bool):
        """on_tile for one pass: the first pass reports rows 0..N/2, the second N/2..N."""
        if on_tile is None:
            return None
        if not want_grad:
            return on_tile
        return lambda done, total: on_tile(done // 2 if first else (N + done) // 2, N)

    q, k = Q.data_ptr(), K.data_ptr()
    s = run_pass(1, lambda a0, a1, own, cols: kernel.strip_sums(q, k, N, a0, a1, exclude, own, cols), halves(True))
    lse = C + s.log()
    value = (lse.exp().mean() if phi == "exp" else lse.mean()).to(R.dtype)
    if not want_grad:
        return value, None, None
    d = (torch.full((N,), math.exp(C) / N, dtype=torch.float64) if phi == "exp" else 1.0 / (N * s)).to(R.dtype)
    dp = d.data_ptr()
    g = run_pass(
        m + 1, lambda a0, a1, own, cols: kernel.strip_grads(q, k, dp, N, a0, a1, exclude, own, cols), halves(False)
    )
    return value, (g[:, :m] / tau).to(R.dtype), g[:, m].to(R.dtype)


def _run_tiles(parts, columns, tile, new_buffer, rows: int, N: int, on_tile) -> None:
    """The groups of tiles `parts` shared out to up to TILE_THREADS threads, the calling one
    included (each group adds to its own `columns`; one group runs in the calling thread
    alone); `on_tile(done, N)` is called from the calling thread only, between its tiles and
    while it waits for the others. If it raises (or a thread fails), the other threads stop
    after their current tile and it re-raises."""
    pending = list(range(len(parts)))
    lock, stop = threading.Lock(), threading.Event()
    done, failures = [0], []

    def work(report) -> None:
        buffer = new_buffer()
        with torch.no_grad():
            while not stop.is_set():
                with lock:
                    if not pending:
                        return
                    group = pending.pop(0)
                for start, use_max in parts[group]:
                    if stop.is_set():
                        return
                    tile(start, use_max, buffer, columns[group])
                    with lock:
                        done[0] += min(start + rows, N) - start
                    report()

    def helper() -> None:
        try:
            work(lambda: None)
        except BaseException as exc:  # noqa: BLE001  (handed to the calling thread, which re-raises it)
            failures.append(exc)
            stop.set()

    def report() -> None:
        if on_tile is not None and done[0] < N:
            on_tile(done[0], N)

    threads = [threading.Thread(target=helper, daemon=True) for _ in range(min(TILE_THREADS, len(parts)) - 1)]
    intra = torch.get_num_threads()
    if threads:
        torch.set_num_threads(1)  # the threads share the cores out by tiles, not inside each operation
    try:
        for thread in threads:
            thread.start()
        work(report)
        while alive := [thread for thread in threads if thread.is_alive()]:
            alive[0].join(0.05)
            report()
    except BaseException:
        stop.set()
        raise
    finally:
        for thread in threads:
            thread.join()
        torch.set_num_threads(intra)
    if failures:
        raise failures[0]
    if on_tile is not None:
        on_tile(N, N)


def _rows(Z: torch.Tensor) -> torch.Tensor:
    V, n, m = Z.shape
    return Z.reshape(V * n, m)


def _wants_grad(Z: torch.Tensor) -> bool:
    """Whether autograd will ask for the gradient, so the tiles should accumulate it."""
    return torch.is_grad_enabled() and Z.requires_grad


def views_nt_xent(
    Z: torch.Tensor, tau: float, chunk: int | None = None, on_tile: TileHook | None = None
) -> torch.Tensor:
    """Mean over the V*n rows a of  -mean_{a+} s(z_a, z_a+)/tau + log sum_{b != a} exp(s(z_a, z_b)/tau),
    with s the cosine similarity of unit vectors. `chunk`: rows per tile (None: by TILE_BYTES)."""
    V, n = Z.shape[:2]
    rows = _rows(Z)
    others = Z.sum(0, keepdim=True) - Z  # for each view, the sum of its sample's other views
    attraction = (Z * others).sum() / (V * n * (V - 1) * tau)
    floor = None
    if V > 1:
        with torch.no_grad():
            floor = (rows * rows.roll(-n, dims=0)).sum(1) / tau  # each row's logit with one positive
    repulsion = _TiledLogSumExp.apply(rows, None, tau, True, "id", floor, chunk, _wants_grad(Z), on_tile)
    return repulsion - attraction


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float, chunk: int | None = None) -> torch.Tensor:
    """NT-Xent of two (n, m) batches of unit vectors whose rows are positive pairs:
    (1/2n) sum_a [ -s(z_a, z_a+)/tau + log sum_{b != a} exp(s(z_a, z_b)/tau) ]."""
    return views_nt_xent(torch.stack([z_a, z_b]), tau, chunk)


def generalized_loss(
    Z: torch.Tensor, tau: float, psi: str = "log", chunk: int | None = None, on_tile: TileHook | None = None
) -> torch.Tensor:
    """E[-log s(z - z+)] + E_x[ psi( E_x' s(z - z') ) ] with s(v) = exp(-|v|^2 / (2 tau));
    the inner mean runs over every row, the row itself included (no indicator)."""
    if psi not in PSI:
        raise ValueError(f"psi: expected one of {', '.join(PSI)}, got {psi!r}")
    V, n = Z.shape[:2]
    N = V * n
    rows = _rows(Z)
    # Over one sample's ordered pairs of views, sum |z_v - z_w|^2 = 2 V sum_v |z_v - mean|^2.
    spread = ((Z - Z.mean(0, keepdim=True)) ** 2).sum()
    attraction = V * spread / (N * (V - 1) * tau)
    # -|z_a - z_b|^2 / (2 tau) - log N = z_a.z_b / tau + u_a + u_b.
    u = -(rows * rows).sum(1) / (2 * tau) - math.log(N) / 2
    with torch.no_grad():
        floor = (rows * rows).sum(1) / tau + 2 * u  # each row's own term
    phi = "exp" if psi == "linear" else "id"
    repulsion = _TiledLogSumExp.apply(rows, u, tau, False, phi, floor, chunk, _wants_grad(Z), on_tile)
    return attraction + repulsion


def contrastive_loss(
    Z: torch.Tensor,
    kind: str,
    tau: float,
    psi: str = "log",
    chunk: int | None = None,
    on_tile: TileHook | None = None,
) -> torch.Tensor:
    """The loss named `kind` ('nt_xent' or 'generalized') of (V, n, m) unit views."""
    if kind == "nt_xent":
        return views_nt_xent(Z, tau, chunk, on_tile)
    if kind == "generalized":
        return generalized_loss(Z, tau, psi, chunk, on_tile)
    raise ValueError(f"loss.kind: expected 'nt_xent' or 'generalized', got {kind!r}")
