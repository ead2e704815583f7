"""The tiled losses of sim.losses against plain dense implementations written here (the whole
N x N similarity matrix, autograd for the gradient), in float64: values and gradients for
several sizes and tile heights that do not divide the number of rows, through the exact-max
fallback and a network; and a check that no intermediate grows beyond a tile of N x chunk."""

import math
import os
import shutil
import threading
from contextlib import nullcontext

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sim import cpu_kernel, losses
from sim.losses import contrastive_loss, generalized_loss, nt_xent, views_nt_xent


def dense_nt_xent(Z, tau):
    V, n, m = Z.shape
    rows = Z.reshape(V * n, m)
    logits = rows @ rows.T / tau
    sample = torch.arange(n).repeat(V)
    self_ = torch.eye(V * n, dtype=torch.bool)
    positive = (sample[:, None] == sample[None, :]) & ~self_
    attraction = (logits * positive).sum(1) / (V - 1)
    return (torch.logsumexp(logits.masked_fill(self_, float("-inf")), dim=1) - attraction).mean()


def dense_generalized(Z, tau, psi):
    V, n, m = Z.shape
    rows = Z.reshape(V * n, m)
    sq = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(-1)
    sample = torch.arange(n).repeat(V)
    positive = (sample[:, None] == sample[None, :]) & ~torch.eye(V * n, dtype=torch.bool)
    attraction = sq[positive].mean() / (2 * tau)
    inner = torch.exp(-sq / (2 * tau)).mean(1)
    return attraction + (inner.log() if psi == "log" else inner).mean()


def dense(Z, kind, tau, psi):
    return dense_nt_xent(Z, tau) if kind == "nt_xent" else dense_generalized(Z, tau, psi)


def unit_views(V, n, m, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(V, n, m, generator=g, dtype=dtype)
    return Z / Z.norm(dim=-1, keepdim=True)


LOSSES = [("nt_xent", "log"), ("generalized", "log"), ("generalized", "linear")]


def check_against_dense(Z, kind, tau, psi, chunk):
    Z = Z.detach().requires_grad_(True)
    expected = dense(Z, kind, tau, psi)
    (g_expected,) = torch.autograd.grad(expected, Z)
    got = contrastive_loss(Z, kind, tau, psi, chunk=chunk)
    (g_got,) = torch.autograd.grad(got, Z)
    assert got.dtype == Z.dtype and got.shape == ()
    assert got.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-13)
    assert float((g_got - g_expected).abs().max()) <= 1e-12 * max(1.0, float(g_expected.abs().max()))


class Stop(Exception):
    """Raised by a tile hook to stop a loss half-way."""


def assert_a_stop_at_half_leaves_no_threads(Z: torch.Tensor) -> None:
    """An exception from the tile hook half-way through the loss propagates, and no thread the
    loss started is left running."""

    def stop_at_half(done, total):
        if done >= total // 2:
            raise Stop

    before = threading.active_count()
    with pytest.raises(Stop):
        contrastive_loss(Z, "nt_xent", 0.4, chunk=8, on_tile=stop_at_half)
    assert threading.active_count() == before


@pytest.mark.parametrize("kind,psi", LOSSES)
@pytest.mark.parametrize("V,n,m", [(2, 1, 2), (2, 7, 3), (3, 5, 2), (3, 11, 3), (2, 50, 2)])
@pytest.mark.parametrize("chunk", [1, 3, 7, 16, None])
def test_tiled_equals_dense(kind, psi, V, n, m, chunk):
    check_against_dense(unit_views(V, n, m, seed=V * 100 + n + m), kind, 0.4, psi, chunk)


@pytest.mark.parametrize("kind,psi", LOSSES)
@pytest.mark.parametrize("tau", [0.002, 0.05, 3.0])
def test_tiled_equals_dense_across_temperatures(kind, psi, tau):
    # tau = 0.002 spreads a row's logits by 1000, so the float64 shift test sends tiles to the exact maxima.
    check_against_dense(unit_views(3, 9, 3, seed=7), kind, tau, psi, chunk=4)


@pytest.mark.parametrize("gap", [0.0, math.inf])
@pytest.mark.parametrize("kind,psi", LOSSES)
def test_bound_shift_and_exact_maximum_agree(monkeypatch, kind, psi, gap):
    # gap 0: every tile takes its rows' exact maxima; gap inf: every tile keeps the bound shift.
    monkeypatch.setattr(losses, "_exact_max_gap", lambda dtype: gap)
    check_against_dense(unit_views(2, 13, 3, seed=11), kind, 0.3, psi, chunk=5)


@pytest.mark.parametrize("kind,psi", LOSSES)
def test_off_sphere_points(kind, psi):
    # The losses take any (V, n, m) tensor; the generalized loss is a function of distances.
    g = torch.Generator().manual_seed(3)
    Z = torch.randn(2, 9, 3, generator=g, dtype=torch.float64) * 2
    check_against_dense(Z, kind, 0.7, psi, chunk=4)


@pytest.mark.parametrize("kind,psi", LOSSES)
def test_gradient_through_a_network(kind, psi):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    X = torch.randn(3, 10, 2, dtype=torch.float64)

    def grads(loss_fn):
        u = net(X)
        loss = loss_fn(u / u.norm(dim=-1, keepdim=True))
        return loss, torch.autograd.grad(loss, list(net.parameters()))

    expected, g_expected = grads(lambda Z: dense(Z, kind, 0.5, psi))
    got, g_got = grads(lambda Z: contrastive_loss(Z, kind, 0.5, psi, chunk=7))
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    for a, b in zip(g_got, g_expected):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-13)


def test_public_functions_and_no_grad():
    Z = unit_views(2, 8, 3, seed=5)
    value = float(dense_nt_xent(Z, 0.5))
    assert float(nt_xent(Z[0], Z[1], 0.5)) == pytest.approx(value, rel=1e-12)
    assert float(views_nt_xent(Z, 0.5, chunk=3)) == pytest.approx(value, rel=1e-12)
    with torch.no_grad():
        assert float(views_nt_xent(Z.requires_grad_(True), 0.5)) == pytest.approx(value, rel=1e-12)
    assert float(generalized_loss(Z.detach(), 0.5, "linear")) == pytest.approx(
        float(dense_generalized(Z.detach(), 0.5, "linear")), rel=1e-12
    )
    with pytest.raises(ValueError, match="psi"):
        generalized_loss(Z, 0.5, "cube")
    with pytest.raises(ValueError, match="chunk"):
        views_nt_xent(Z, 0.5, chunk=0)


def test_float32_close_to_float64():
    Z = unit_views(2, 300, 3, seed=9)
    for kind, psi in LOSSES:
        Z64 = Z.clone().requires_grad_(True)
        (g64,) = torch.autograd.grad(contrastive_loss(Z64, kind, 0.1, psi), Z64)
        Z32 = Z.float().requires_grad_(True)
        loss32 = contrastive_loss(Z32, kind, 0.1, psi)
        (g32,) = torch.autograd.grad(loss32, Z32)
        assert loss32.dtype == torch.float32
        assert loss32.item() == pytest.approx(contrastive_loss(Z, kind, 0.1, psi).item(), rel=1e-5)
        assert float((g32.double() - g64).abs().max()) <= 1e-5 * float(g64.abs().max())


class LargestTensor(TorchDispatchMode):
    """Records the most elements any operator's output holds."""

    def __init__(self):
        super().__init__()
        self.most = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.most = max(self.most, t.numel())
        return out


@pytest.mark.parametrize("kind,psi", LOSSES)
def test_memory_is_a_tile_not_the_matrix(kind, psi):
    V, n, m, chunk = 2, 3000, 3, 64
    N = V * n
    Z = unit_views(V, n, m, seed=1, dtype=torch.float32).requires_grad_(True)
    with LargestTensor() as seen:
        loss = contrastive_loss(Z, kind, 0.5, psi, chunk=chunk)
        loss.backward()
    assert torch.isfinite(Z.grad).all()
    assert seen.most <= chunk * N < N * N // 40
    with LargestTensor() as seen:
        contrastive_loss(Z.detach(), kind, 0.5, psi)  # default tile height
    assert seen.most <= max(losses.MIN_TILE_ROWS * N, losses.DEFAULT_TILE_BYTES // 4)


@pytest.fixture
def parallel_tiles(monkeypatch):
    """The threaded tile path from 32 rows on (by default only large losses take it)."""
    monkeypatch.setattr(losses, "PARALLEL_MIN_ROWS", 32)


@pytest.mark.parametrize("kind,psi", LOSSES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_tiles_in_threads_equal_dense(parallel_tiles, monkeypatch, kind, psi, threads):
    monkeypatch.setattr(losses, "TILE_THREADS", threads)
    check_against_dense(unit_views(3, 37, 3, seed=threads), kind, 0.4, psi, chunk=5)  # 23 tiles, 8 groups


def test_tiles_in_threads_give_the_same_numbers_whatever_the_thread_count(parallel_tiles, monkeypatch):
    Z = unit_views(2, 200, 3, seed=9, dtype=torch.float32).requires_grad_(True)
    results = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(losses, "TILE_THREADS", threads)
        value = views_nt_xent(Z, 0.3, chunk=16)
        results.append((value, *torch.autograd.grad(value, Z)))
    for value, grad in results[1:]:
        assert torch.equal(value, results[0][0]) and torch.equal(grad, results[0][1])


def test_progress_and_a_stop_in_threads(parallel_tiles, monkeypatch):
    """Progress comes from the calling thread only, never backwards, and ends at N; a raise
    from it stops every thread and reaches the caller; torch's own thread count is restored."""
    monkeypatch.setattr(losses, "TILE_THREADS", 2)
    Z = unit_views(2, 400, 3, seed=4).requires_grad_(True)
    seen, callers = [], set()

    def on_tile(done, total):
        seen.append((done, total))
        callers.add(threading.get_ident())

    intra = torch.get_num_threads()
    contrastive_loss(Z, "nt_xent", 0.4, chunk=8, on_tile=on_tile)
    assert callers == {threading.get_ident()}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (800, 800)
    assert {t for _, t in seen} == {800} and torch.get_num_threads() == intra

    assert_a_stop_at_half_leaves_no_threads(Z)
    assert torch.get_num_threads() == intra


@pytest.mark.parametrize("attempt", range(3))
def test_a_failing_tile_reaches_the_caller_from_whichever_thread_ran_it(monkeypatch, attempt):
    monkeypatch.setattr(losses, "TILE_THREADS", 2)
    parts = [[(0, True)], [(8, True)], [(16, True)]]

    def tile(start, use_max, buffer, columns):
        if start == 8:
            raise MemoryError("tile at row 8")

    before = threading.active_count()
    with pytest.raises(MemoryError, match="tile at row 8"):
        losses._run_tiles(parts, [None] * 3, tile, lambda: None, 8, 24, None)
    assert threading.active_count() == before


COMPILER = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


@pytest.fixture
def compiled_loop(monkeypatch):
    """The compiled symmetric loop from 32 rows on, the torch tiles barred (where a C compiler
    exists: without one the torch tiles must serve, which the test then checks instead)."""
    monkeypatch.setattr(losses, "SYMMETRIC_MIN_ROWS", 32)
    monkeypatch.setattr(losses, "PARALLEL_MIN_ROWS", 32)
    if COMPILER is not None:

        def no_torch_tiles(*args):
            raise AssertionError("the torch tiles ran where the compiled loop should")

        monkeypatch.setattr(losses, "_tiles", no_torch_tiles)


def check_float32_against_dense(Z64, kind, tau, psi, chunk=None, rel=1e-6):
    """float32 loss and gradient against the float64 dense ones at the same (rounded) points: the
    value within `rel` or 2e-7 (where attraction and repulsion of order 1 cancel, as the generalized
    loss at tau = 2, float32's rounding of each is the limit: the torch tiles miss by 1.1e-7 there)."""
    Z32 = Z64.float().requires_grad_(True)
    Z64 = Z32.detach().double().requires_grad_(True)
    expected = dense(Z64, kind, tau, psi)
    (g_expected,) = torch.autograd.grad(expected, Z64)
    got = contrastive_loss(Z32, kind, tau, psi, chunk=chunk)
    (g_got,) = torch.autograd.grad(got, Z32)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(expected.item(), rel=rel, abs=2e-7)
    assert float((g_got.double() - g_expected).abs().max()) <= 1e-5 * float(g_expected.abs().max())


@pytest.mark.parametrize("kind,psi", LOSSES)
@pytest.mark.parametrize(
    "V,n,m,chunk", [(2, 400, 3, None), (3, 37, 3, 5), (2, 333, 2, 7), (2, 1100, 3, 128), (2, 150, 16, 32)]
)
def test_compiled_loop_equals_dense(compiled_loop, kind, psi, V, n, m, chunk):
    # strips of `chunk` rows that do not divide N, several column blocks (N > 1024), m = 2, 3
    # and the widest the loop takes
    check_float32_against_dense(unit_views(V, n, m, seed=n + m), kind, 0.5, psi, chunk)


@pytest.mark.parametrize("kind,psi", LOSSES)
@pytest.mark.parametrize("tau", [0.06, 0.2, 2.0])
def test_compiled_loop_across_temperatures(compiled_loop, kind, psi, tau):
    check_float32_against_dense(unit_views(2, 300, 3, seed=5), kind, tau, psi)


@pytest.mark.parametrize("kind,psi", LOSSES)
def test_compiled_loop_off_the_sphere(compiled_loop, kind, psi):
    g = torch.Generator().manual_seed(8)
    Z = torch.randn(2, 150, 3, generator=g, dtype=torch.float64) * 0.7  # rows of different lengths
    check_float32_against_dense(Z, kind, 1.0, psi)


@pytest.mark.parametrize("kind,psi", LOSSES)
def test_a_temperature_too_small_for_one_shift_goes_to_the_torch_tiles(monkeypatch, kind, psi):
    monkeypatch.setattr(losses, "SYMMETRIC_MIN_ROWS", 32)

    def no_compiled_loop(*args):
        raise AssertionError("the compiled loop ran with logits spread too far")

    monkeypatch.setattr(losses, "_symmetric_tiles", no_compiled_loop)
    # tau = 0.02 spreads the logits over 2 / tau = 100: NT-Xent's positive logit can lie past
    # SYMMETRIC_GAP below the shift; the generalized loss's farthest pairs past LOWEST_LOGIT2
    check_float32_against_dense(unit_views(2, 200, 3, seed=2), kind, 0.02, psi, rel=1e-5)


def test_wide_embeddings_go_to_the_torch_tiles(monkeypatch):
    monkeypatch.setattr(losses, "SYMMETRIC_MIN_ROWS", 32)

    def no_compiled_loop(*args):
        raise AssertionError("the compiled loop ran on wide rows")

    monkeypatch.setattr(losses, "_symmetric_tiles", no_compiled_loop)
    m = losses.SYMMETRIC_MAX_DIMS + 1
    for kind, psi in LOSSES:  # the torch tiles' float32 precision (test_float32_close_to_float64)
        check_float32_against_dense(unit_views(2, 100, m, seed=m), kind, 0.5, psi, rel=1e-5)


def test_without_a_c_compiler_the_torch_tiles_serve(monkeypatch, tmp_path):
    monkeypatch.setattr(losses, "SYMMETRIC_MIN_ROWS", 32)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing built before
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    cpu_kernel.load.cache_clear()
    try:
        assert cpu_kernel.load(4, 3) is None
        check_float32_against_dense(unit_views(2, 200, 3, seed=3), "nt_xent", 0.5, "log")
    finally:
        cpu_kernel.load.cache_clear()


def test_compiled_loop_gives_the_same_numbers_whatever_the_thread_count(compiled_loop, monkeypatch):
    Z = unit_views(2, 700, 3, seed=9, dtype=torch.float32).requires_grad_(True)
    results = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(losses, "TILE_THREADS", threads)
        for kind, psi in LOSSES:
            value = contrastive_loss(Z, kind, 0.3, psi, chunk=16)
            results.append((threads, kind, psi, value, *torch.autograd.grad(value, Z)))
    first = {(kind, psi): (value, grad) for threads, kind, psi, value, grad in results if threads == 1}
    for _, kind, psi, value, grad in results:
        assert torch.equal(value, first[kind, psi][0]) and torch.equal(grad, first[kind, psi][1])


def test_compiled_loop_progress_and_stop(compiled_loop, monkeypatch):
    monkeypatch.setattr(losses, "TILE_THREADS", 2)
    Z = unit_views(2, 400, 3, seed=4, dtype=torch.float32).requires_grad_(True)
    seen = []
    loss = contrastive_loss(Z, "nt_xent", 0.4, chunk=8, on_tile=lambda done, total: seen.append((done, total)))
    loss.backward()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (800, 800)
    assert {t for _, t in seen} == {800} and seen[0][0] < 800

    assert_a_stop_at_half_leaves_no_threads(Z)


def test_compiled_loop_refuses_a_strip_of_no_rows(compiled_loop):
    with pytest.raises(ValueError, match="chunk"):
        views_nt_xent(unit_views(2, 50, 3, seed=1, dtype=torch.float32), 0.5, chunk=0)


def test_exp2_polynomial_is_within_float32_rounding():
    f = torch.linspace(-0.5, 0.5, 100_001, dtype=torch.float64)
    c = cpu_kernel.exp2_coefficients()
    p = sum(ck * f**k for k, ck in enumerate(c))
    assert float((p / 2.0**f - 1).abs().max()) < 5e-9


def test_a_wrong_build_is_caught_at_first_use_and_the_torch_tiles_serve(monkeypatch, tmp_path):
    monkeypatch.setattr(losses, "SYMMETRIC_MIN_ROWS", 32)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    wrong = [1.0, 0.7, 0.24, 0.055, 0.0096, 0.0013, 0.00015]  # 2^f about 0.3% off
    monkeypatch.setattr(cpu_kernel, "exp2_coefficients", lambda degree=6: wrong)
    cpu_kernel.load.cache_clear()
    losses._compiled_works.cache_clear()
    try:
        warned = pytest.warns(UserWarning, match="compiled CPU loss loop not used") if COMPILER else nullcontext()
        with warned:
            check_float32_against_dense(unit_views(2, 200, 3, seed=6), "nt_xent", 0.5, "log")
    finally:
        cpu_kernel.load.cache_clear()
        losses._compiled_works.cache_clear()
