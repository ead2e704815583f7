"""The GPU path of the contrastive losses (sim/fused_lse.py, sim/fused_lse_triton.py), checked
without a GPU: the kernel compiled by Triton for an H200 (sm_90) down to its binary, and the
whole path run on the CPU by Triton's interpreter in a child process (TRITON_INTERPRET must be
set before Triton is imported): losses and gradients against dense float64 references written
here, for NT-Xent and the generalized loss, an embedding dimension over the kernel's padding,
and several launches with progress between them; a short simulation run through the
kernels against the same run through the torch tiles; and a kernel that fails or disagrees
at its first use set aside for the torch tiles, with a warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sim import fused_lse

ROOT = Path(__file__).resolve().parent.parent


def dense(Z: torch.Tensor, kind: str, tau: float, psi: str) -> torch.Tensor:
    """The loss of two views (2, n, m) from full N x N matrices."""
    n = Z.shape[1]
    R = Z.reshape(2 * n, -1)
    partner = torch.arange(2 * n).roll(n)
    if kind == "nt_xent":
        S = R @ R.T / tau
        positive = S[torch.arange(2 * n), partner]
        S = S.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        return (torch.logsumexp(S, 1) - positive).mean()
    D2 = torch.cdist(R, R) ** 2
    attraction = ((R - R[partner]) ** 2).sum(1).mean() / (2 * tau)
    inner = torch.exp(-D2 / (2 * tau)).mean(1)
    return attraction + (inner.log() if psi == "log" else inner).mean()


def check_in_the_interpreter() -> None:
    """Run in the child: asserts, then prints what it checked."""
    assert fused_lse.usable(torch.zeros(2, 3)) and not fused_lse.usable(torch.zeros(2, 3, dtype=torch.float64))
    from sim import losses

    assert losses._fused_works("cpu")  # the kernel's first-use check passed (interpreted)
    calls = []
    fused = fused_lse.mean_log_sum_exp

    def spy(*args):
        calls.append(args)
        return fused(*args)

    fused_lse.mean_log_sum_exp = spy
    from sim.losses import contrastive_loss

    g = torch.Generator().manual_seed(3)
    tiles = []
    for kind, psi, m in [
        ("nt_xent", "log", 3),
        ("nt_xent", "log", 20),
        ("generalized", "log", 3),
        ("generalized", "linear", 2),
    ]:
        Z = torch.randn(2, 150, m, generator=g, dtype=torch.float64)
        Z = Z / Z.norm(dim=-1, keepdim=True)
        reference = Z.clone().requires_grad_(True)
        expected = dense(reference, kind, 0.3, psi)
        (expected_grad,) = torch.autograd.grad(expected, reference)
        rows = Z.float().requires_grad_(True)
        tiles.clear()
        value = contrastive_loss(
            rows, kind, 0.3, psi, chunk=100, on_tile=lambda done, total: tiles.append((done, total))
        )
        (grad,) = torch.autograd.grad(value, rows)
        assert abs(value.item() - expected.item()) <= 2e-6 * abs(expected.item()), (kind, psi, m, value, expected)
        error = ((grad.double() - expected_grad).abs().max() / expected_grad.abs().max()).item()
        assert error < 1e-5, (kind, psi, m, error)
        # 300 rows, launches of 128 rows (chunk 100 rounded up to a block): 3 per pass, 2 passes
        assert tiles == [(50, 300), (100, 300), (150, 300), (200, 300), (250, 300), (300, 300)], tiles
    assert len(calls) == 4
    with torch.no_grad():
        tiles.clear()
        value = contrastive_loss(rows, "nt_xent", 0.3, chunk=100, on_tile=lambda done, total: tiles.append(done))
    assert tiles == [100, 200, 300]  # no gradient wanted: the second pass is skipped

    from sim import Simulation, fused_mlp, load_preset

    fused_mlp.plan = lambda *args, **kwargs: None  # the compiled CPU step serves no GPU run: kept out here
    frames, before = [], len(calls)
    for enabled in (True, False):  # a run through the kernels, then through the torch tiles
        fused_lse.ENABLED = enabled
        sim = Simulation(load_preset("fig5-2d"))
        sim.step(10)
        frames.append(sim.frame())
    assert len(calls) - before >= 10  # the first run's steps went through the kernels
    through_kernels, through_tiles = frames
    assert (
        np.abs(through_kernels.Z - through_tiles.Z).max() < 1e-4
        and abs(through_kernels.loss - through_tiles.loss) < 1e-5
    )
    assert (
        np.abs(through_kernels.velocity["nn"] - through_tiles.velocity["nn"]).max()
        < 1e-3 * np.abs(through_tiles.velocity["nn"]).max()
    )

    fused_lse.ENABLED = True
    rows = Z.float()
    expected = dense(Z, "nt_xent", 0.3, "log").item()

    def failing(*args):
        raise RuntimeError("no C compiler")

    def wrong(*args):
        value, grad_R, grad_u = fused(*args)
        return value * 1.01, grad_R, grad_u

    for broken, why in ((failing, "(RuntimeError: no C compiler)"), (wrong, "(ArithmeticError: differs from")):
        losses._fused_works.cache_clear()
        fused_lse.mean_log_sum_exp = broken
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = contrastive_loss(rows, "nt_xent", 0.3).item()
        assert f"fused loss kernel not used on cpu {why}" in str(caught[0].message), caught
        assert abs(value - expected) < 1e-5 * abs(expected)  # the torch tiles served
    print("interpreted: 4 losses and gradients match, and a run of fig5-2d; a broken kernel is set aside")


def test_the_fused_path_matches_dense_float64_references_in_the_triton_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, __file__], check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "interpreted: 4 losses and gradients match, and a run of fig5-2d; a broken kernel is set aside" in done.stdout
    )


@pytest.mark.parametrize("exclude_self", [True, False])
def test_the_kernel_compiles_for_an_h200_on_tensor_cores_without_spilling_registers(
    exclude_self: bool, tmp_path: Path
) -> None:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    pointers = {name: "*fp32" for name in ("Q", "K", "V", "lse", "mean")}
    constants = {
        "D": 16,
        "DV": 16,
        "BLOCK_M": fused_lse.BLOCK_ROWS,
        "BLOCK_N": fused_lse.BLOCK_COLUMNS,
        "EXCLUDE_SELF": exclude_self,
    }
    signature = {**pointers, "N": "i32", "first_row": "i32", **{name: "constexpr" for name in constants}}
    compiled = triton.compile(
        ASTSource(fn=fused_lse._kernel(), signature=signature, constexprs=constants),
        target=GPUTarget("cuda", 90, 32),
        options={"num_warps": fused_lse.NUM_WARPS},
    )
    cubin = tmp_path / "kernel.cubin"
    cubin.write_bytes(compiled.asm["cubin"])
    tools = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    usage = subprocess.run(
        [tools / "cuobjdump", "--dump-resource-usage", cubin], check=True, capture_output=True, text=True
    ).stdout
    assert re.search(r"STACK:0\b", usage), usage  # no registers spilled to memory in the loop
    sass = subprocess.run(
        [tools / "cuobjdump", "--dump-sass", cubin], check=True, capture_output=True, text=True
    ).stdout
    assert "HGMMA" in sass and "MUFU.EX2" in sass  # Hopper's tensor-core products, hardware exp2


def test_split_operands_keep_float32_precision_in_tf32_products() -> None:
    g = torch.Generator().manual_seed(5)
    R = torch.randn(500, 3, generator=g)
    R = R / R.norm(dim=1, keepdim=True)
    high, low = fused_lse.split_tf32(R)
    assert torch.equal(high + low, R) and not (high.view(torch.int32) & 0x1FFF).any()
    Q, K_parts, V = fused_lse.operands(R, 0.2)
    offset = torch.randn(500, generator=g) * 10
    K = fused_lse.with_offset(K_parts, offset)
    assert Q.shape == K.shape == V.shape == (500, 16)

    def tf32(x):  # what a tensor core reads of a float32: its top 10 mantissa bits
        return (x.view(torch.int32) & fused_lse.TF32_MASK).view(torch.float32).double()

    exact = (R.double() @ R.double().T / 0.2 + offset.double()[None, :]) * fused_lse.LOG2E
    three_term = tf32(Q) @ tf32(K).T
    one_term = (tf32(R * (fused_lse.LOG2E / 0.2)) @ tf32(R).T) + tf32(offset * fused_lse.LOG2E)[None, :]
    assert (three_term - exact).abs().max() < 2e-5 < (one_term - exact).abs().max()
    assert (tf32(V)[:, :3] + tf32(V)[:, 3:6] - R.double()).abs().max() < 1e-6  # the mean's two halves


def test_tensors_on_the_cpu_take_the_torch_path_outside_the_interpreter(monkeypatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not fused_lse.usable(torch.zeros(4, 3))


if __name__ == "__main__":
    check_in_the_interpreter()
