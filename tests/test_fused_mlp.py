"""The compiled step calls (sim/fused_mlp.py) against torch in float64: the forward pass, the
NT-Xent loss and its gradients through the network, the forward-mode derivative, and the whole
step of the NN and the identity kernel under the step rule (against the rule written out in
float64), on shapes with odd sizes (the C loops' tails); the same numbers from a build for the
baseline x86-64 as from this machine's; where they serve a run and where torch does."""

from __future__ import annotations

import platform
import warnings

import numpy as np
import pytest
import torch

from sim import Divergence, Simulation, fused_mlp, load_preset
from sim.networks import MLP
from sim.preset import with_changes

SHAPES = [  # (in_dim, width, depth, out_dim, views, n)
    (2, 64, 4, 2, 2, 256),  # fig5-2d
    (3, 33, 1, 3, 3, 37),
    (10, 16, 3, 2, 2, 5),
    (1, 7, 2, 4, 4, 9),
]


def fused_for(in_dim: int, width: int, depth: int, out_dim: int) -> fused_mlp.FusedMLP:
    fused = fused_mlp._load(in_dim, width, depth, out_dim)
    assert fused is not None, "the compiled calls did not build (a C compiler is part of the test install)"
    return fused


def problem(shape, seed: int = 0, gain: float = 3.0):
    in_dim, width, depth, out_dim, views, n = shape
    torch.manual_seed(seed)
    net = MLP(in_dim, out_dim, width, depth, "tanh", gain)
    g = torch.Generator().manual_seed(seed)
    return (
        net,
        [p.detach() for p in net.parameters()],
        torch.randn(views, n, in_dim, generator=g),
        torch.randn(n, out_dim, generator=g) * 0.3,
    )


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    b = b.detach()
    return float((a.detach().double() - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("shape", SHAPES)
def test_loss_and_gradients_match_torch_in_float64(shape):
    net, weights, views, delta = problem(shape)
    fused = fused_for(*shape[:4])
    loss, grads, u = fused_mlp.step_gradients(fused, weights, views, delta, 0.5)
    want_loss, want = fused_mlp.reference_gradients(
        net, [w.double() for w in weights], views.double(), delta.double(), 0.5
    )
    assert abs(loss - float(want_loss)) <= 1e-6 * abs(float(want_loss))
    assert len(grads) == len(want) == len(weights) + 1
    for got, expected in zip(grads, want, strict=True):
        assert got.shape == expected.shape and got.dtype == torch.float32
        assert relative(got, expected) < 1e-4
    V, n, d = views.shape
    u64 = net.double()(views.double().reshape(V * n, d)).reshape(V, n, -1) + delta.double()
    assert relative(u, u64) < 1e-5


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_tangent_match_torch_in_float64(shape):
    net, weights, views, _ = problem(shape)
    fused = fused_for(*shape[:4])
    x = views[0]
    out, (inputs, pre) = fused.forward_saving(weights, x)
    w64 = [w.double() for w in weights]
    want_out, (want_inputs, _) = net.double().forward_saving(w64, x.double())
    assert relative(out, want_out) < 1e-5 and pre == [None] * shape[2]
    for got, expected in zip(inputs, want_inputs, strict=True):
        assert relative(got, expected) < 1e-5
    g = torch.Generator().manual_seed(1)
    tangents = [torch.randn(w.shape, generator=g) for w in weights]
    _, jvp = torch.func.jvp(
        lambda *ws: net.forward_with(ws, x.double()), tuple(w64), tuple(t.double() for t in tangents)
    )
    assert relative(fused.tangent(weights, tangents, (inputs, pre), -0.05), -0.05 * jvp) < 1e-4


def test_a_zero_output_is_refused_and_the_loss_on_unit_rows_is_nt_xent():
    fused = fused_for(2, 64, 4, 2)
    u = torch.randn(2, 6, 2)
    u[1, 3] = 0.0
    assert fused.nt_xent(u, 0.5) is None
    # a closed form: two samples, two views each, every view at its own angle on the circle
    angles = torch.tensor([[0.0, 1.0], [0.3, 2.5]], dtype=torch.float64)
    Z = torch.stack([angles.cos(), angles.sin()], dim=-1)  # (V, n, 2)
    rows, tau = Z.reshape(4, 2), 0.5
    S = rows @ rows.T / tau
    terms = [
        torch.logsumexp(torch.cat([S[a, :a], S[a, a + 1 :]]), 0) - S[a, (a + 2) % 4] for a in range(4)
    ]  # row a's positive is the same sample's other view, two rows on
    loss, _ = fused.nt_xent((3.0 * Z).float(), tau)
    assert loss == pytest.approx(float(torch.stack(terms).mean()), rel=1e-6)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the baseline build is x86-64's")
def test_the_baseline_x86_64_build_gives_the_same_numbers_bit_for_bit():
    """Compiled without reassociation and with explicit fused multiply-adds, a build for the
    baseline x86-64 (SSE2, fmaf in software) gives this machine's numbers bit for bit, so a
    run is the same run on any x86-64 machine."""
    shape = SHAPES[1]
    native = fused_for(*shape[:4])
    flags = tuple("-march=x86-64" if f == "-march=native" else f for f in fused_mlp.FLAGS)
    library = fused_mlp.cpu_kernel.build("mlp-baseline", fused_mlp.source(*shape[:4]), flags)
    assert library is not None
    baseline = fused_mlp.FusedMLP(library, *shape[:4])
    _, weights, views, delta = problem(shape, seed=3)
    a = fused_mlp.step_gradients(native, weights, views, delta, 0.3)
    b = fused_mlp.step_gradients(baseline, weights, views, delta, 0.3)
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1], strict=True):
        assert torch.equal(x, y)
    saved = native.forward_saving(weights, views[0])[1]
    assert torch.equal(native.tangent(weights, a[1][:-1], saved, 0.1), baseline.tangent(weights, a[1][:-1], saved, 0.1))
    clean, rule = native.forward_saving(weights, views[0]), fused_mlp.StepRule(0.3, -0.5, 0.5, 0.02)
    x, y = native.nn_step(weights, clean, views, delta, rule), baseline.nn_step(weights, clean, views, delta, rule)
    assert x[2:] == y[2:]
    for p, q in zip([*x[0], x[1][0], *x[1][1][0]], [*y[0], y[1][0], *y[1][1][0]], strict=True):
        assert torch.equal(p, q)
    rule = fused_mlp.StepRule(0.3, -0.5 * delta.shape[0], 0.5, 0.02)
    x, y = (f.delta_step(weights, clean[0], views, delta, rule) for f in (native, baseline))
    assert x[1:] == y[1:] and torch.equal(x[0], y[0])


def test_where_the_compiled_calls_serve_a_run():
    sim = Simulation(load_preset("fig5-2d"), device="cpu")
    assert sim._fused() is not None
    for changes in (
        {"network.activation": "relu"},
        {"loss.kind": "generalized"},
        {"loss.tau": 0.02},
    ):
        other = Simulation(with_changes(load_preset("fig5-2d"), changes), device="cpu")
        assert other._fused() is None, changes
    assert Simulation(load_preset("fig5-2d"), device="cpu", dtype="float64")._fused() is None
    assert fused_mlp.plan(sim.model, "nt_xent", 0.5, 2, fused_mlp.MAX_ROWS + 1, torch.float32, "cpu", None) is None
    assert fused_mlp.plan(sim.model, "nt_xent", 0.5, 1, 256, torch.float32, "cpu", None) is None


def test_a_run_takes_the_same_steps_as_through_torch_up_to_rounding(monkeypatch):
    """fig5-2d by the compiled calls and by torch: at the start the same embeddings, loss and
    moves up to float32 rounding (its 4-layer tanh net with 6 times the default weights
    multiplies rounding differences about a thousandfold: 1e-5 in z); five steps on, still the
    same loss to 1e-5 and embeddings within 2e-3 (the step rule acts on each move)."""
    fused_run = Simulation(load_preset("fig5-2d"), device="cpu")
    assert fused_run._fused() is not None
    first = [fused_run.frame(block_ratio=False)]
    fused_run.step(5)
    first.append(fused_run.frame(block_ratio=False))
    monkeypatch.setattr(fused_mlp, "plan", lambda *args, **kwargs: None)
    torch_run = Simulation(load_preset("fig5-2d"), device="cpu")
    assert torch_run._fused() is None
    second = [torch_run.frame(block_ratio=False)]
    torch_run.step(5)
    second.append(torch_run.frame(block_ratio=False))
    (a0, a5), (b0, b5) = first, second
    np.testing.assert_allclose(a0.Z, b0.Z, atol=5e-5)
    assert a0.loss == pytest.approx(b0.loss, rel=1e-6)
    for kernel in ("nn", "identity"):
        scale = np.abs(b0.velocity[kernel]).max()
        np.testing.assert_allclose(a0.velocity[kernel], b0.velocity[kernel], atol=1e-4 * scale)
    assert a5.step == b5.step == 5
    assert a5.loss == pytest.approx(b5.loss, rel=1e-5)
    np.testing.assert_allclose(a5.Z, b5.Z, atol=2e-3)


def test_a_fig5_step_is_one_compiled_call_and_torch_takes_what_it_declines(monkeypatch):
    """fig5-2d's steps go through FusedMLP.nn_step alone; a step it declines (a weight made
    NaN) goes through the torch step, which refuses it and keeps the run as it was."""
    sim = Simulation(load_preset("fig5-2d"), device="cpu")
    torch_steps = []
    rule_step = Simulation._rule_step
    monkeypatch.setattr(Simulation, "_rule_step", lambda self: torch_steps.append(self.step_count) or rule_step(self))
    sim.step(3)
    sim.frame(block_ratio=False)
    sim.step(2)
    assert sim.step_count == 5 and torch_steps == []
    with torch.no_grad():
        sim.params[2][0, 0] = float("nan")
    kept = [p.clone() for p in sim.params]
    with pytest.raises(Divergence, match="step 5"):
        sim.step()
    assert torch_steps == [5] and sim.step_count == 5
    for before, after in zip(kept, sim.params, strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("step", ["nn_step", "delta_step"])
def test_a_whole_step_that_disagrees_with_float64_is_refused_at_first_use(monkeypatch, step):
    """The first-use check covers the whole steps too: one whose angle is 0.1% off (or whose
    moves are) is refused, and torch serves."""
    fused = fused_for(2, 64, 4, 2)
    fused_mlp._agrees(fused)
    real = getattr(fused_mlp.FusedMLP, step)

    def off(self, *args):
        found = real(self, *args)
        return (*found[:-1], found[-1] * 1.001)

    monkeypatch.setattr(fused_mlp.FusedMLP, step, off)
    with pytest.raises(ArithmeticError, match="relative"):
        fused_mlp._agrees(fused)


def test_the_first_use_check_is_the_same_whatever_the_random_state_and_leaves_it():
    """The check draws its own problem: after any seed it gives the same verdict and leaves
    the process's random numbers as they were. (It once drew from them, and a whole step so
    large that embeddings turned about made asin near 1 decide it: one seed failed it.)"""
    fused = fused_for(2, 64, 4, 2)
    for seed in range(4):
        torch.manual_seed(seed)
        state = torch.get_rng_state()
        fused_mlp._agrees(fused)
        assert torch.equal(torch.get_rng_state(), state)


def test_code_that_does_not_build_warns_with_the_compiler_s_error(monkeypatch, tmp_path):
    """A compiler that fails on the code (the code's fault, not the machine's) is said in one
    line with its first error; no compiler at all is the optional case and stays quiet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = "int broken(void) { return undeclared_name; }"
    with pytest.warns(UserWarning, match=r"^oops: the C code did not build \(.*undeclared_name.*\); torch serves$"):
        assert fused_mlp.cpu_kernel.build("oops", code, fused_mlp.FLAGS) is None
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fused_mlp.cpu_kernel.build("oops", code, fused_mlp.FLAGS) is None


def test_without_a_c_compiler_torch_serves(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing built before
    fused_mlp._load.cache_clear()
    try:
        sim = Simulation(load_preset("fig5-2d"), device="cpu")
        assert sim._fused() is None
        sim.step(3)
        assert sim.step_count == 3
    finally:
        fused_mlp._load.cache_clear()


def reference_step(net, weights, X, views, delta, rule: fused_mlp.StepRule):
    """The step rule of sim/simulation.py written out in float64 through autograd and
    torch.func.jvp: (new weights, factor, largest angle, tries)."""
    _, grads = fused_mlp.reference_gradients(net, weights, views, delta, rule.tau)
    g = grads[:-1]
    f, du = torch.func.jvp(
        lambda *ws: net.forward_with(ws, X), tuple(weights), tuple(rule.tangent_scale * gi for gi in g)
    )

    def tried(scale):
        new = [w - rule.eta * scale * gi for w, gi in zip(weights, g)]
        return new, net.forward_with(new, X) + delta

    return settle(f + delta, du, rule, tried)


def settle(u, du, rule: fused_mlp.StepRule, tried):
    """The step rule in float64 from the raw outputs u (n, m) and the points' first-order moves
    du: the factor min(1, bound / fastest angular speed), then cut to 0.95 bound / angle while
    the try `tried(factor)` -> (new tensors, new u) moves some z more than the bound. Returns
    (new tensors, factor, angle, tries)."""
    z = u / u.norm(dim=1, keepdim=True)
    speed = (du - (du * z).sum(1, keepdim=True) * z).norm(dim=1) / u.norm(dim=1)
    fastest = float(speed.max())
    scale = 1.0 if fastest <= rule.bound else rule.bound / fastest
    for tries in range(1, 21):
        new, u1 = tried(scale)
        z1 = u1 / u1.norm(dim=1, keepdim=True)
        angle = float((2 * torch.asin(((z - z1).norm(dim=1) / 2).clamp(max=1))).max())
        if angle <= rule.bound:
            return new, scale, angle, tries
        scale *= 0.95 * rule.bound / angle
    raise AssertionError("no step within 20 cuts")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("eta, bound", [(1e-4, 1.0), (0.5, 0.02)])
def test_the_whole_step_matches_the_step_rule_in_float64(shape, eta, bound):
    """FusedMLP.nn_step against the step rule in float64: the same factor (first order, then
    cut while the tried step moves some embedding more than the bound), the same new weights,
    angle and pass (float32 against float64 through a network with 3 times the default weights:
    1e-3 relative in the angle, or 1e-6 rad: z's float32 resolution); and a frame's gradients given to it give the very same step."""
    net, weights, views, delta = problem(shape)
    X = views[0] + 0.05 * torch.randn(views[0].shape, generator=torch.Generator().manual_seed(5))
    fused = fused_for(*shape[:4])
    rule = fused_mlp.StepRule(tau=0.5, tangent_scale=-eta, eta=eta, bound=bound)
    clean = fused.forward_saving(weights, X)
    new, (f1, (inputs, pre)), scale, angle = fused.nn_step(weights, clean, views, delta, rule)
    w64 = [w.double() for w in weights]
    want, want_scale, want_angle, tries = reference_step(net, w64, X.double(), views.double(), delta.double(), rule)
    assert (want_scale < 1.0) == (bound < 1.0) and (tries == 1) == (bound == 1.0)
    assert scale == pytest.approx(want_scale, rel=1e-3) and angle == pytest.approx(want_angle, rel=1e-3, abs=1e-6)
    assert angle <= bound
    for got, expected in zip(new, want, strict=True):
        assert got.shape == expected.shape and relative(got, expected) < 1e-5
    want_f1, (want_inputs, _) = net.double().forward_saving(want, X.double())
    assert relative(f1, want_f1) < 1e-4 and pre == [None] * shape[2] and inputs[0] is X
    for got, expected in zip(inputs[1:], want_inputs[1:], strict=True):
        assert relative(got, expected) < 1e-4
    grads = fused_mlp.step_gradients(fused, weights, views, delta, rule.tau)[1][:-1]
    again = fused.nn_step(weights, clean, views, delta, rule, grads)
    assert again[2:] == (scale, angle)
    for a, b in zip(again[0] + again[1][1][0], new + inputs, strict=True):
        assert torch.equal(a, b)


def reference_delta_step(net, weights, X, views, delta, rule: fused_mlp.StepRule):
    """The identity kernel's step under the step rule in float64: (new Delta, factor, angle, tries)."""
    _, grads = fused_mlp.reference_gradients(net, weights, views, delta, rule.tau)
    g, n = grads[-1], delta.shape[0]
    f = net.forward_with(weights, X)

    def tried(scale):
        new = delta - rule.eta * scale * n * g
        return new, f + new

    return settle(f + delta, rule.tangent_scale * g, rule, tried)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("eta, bound", [(1e-4, 1.0), (0.5, 0.02)])
def test_the_identity_kernel_s_step_matches_the_step_rule_in_float64(shape, eta, bound):
    """FusedMLP.delta_step against the identity kernel's step in float64 (the points moved by
    -eta n dL/dDelta, the network fixed); a frame's gradient given to it gives the very same
    step (its sum over the views in the same order: 3 and 4 views among the shapes)."""
    net, weights, views, delta = problem(shape)
    X = views[0] + 0.05 * torch.randn(views[0].shape, generator=torch.Generator().manual_seed(5))
    fused = fused_for(*shape[:4])
    n = delta.shape[0]
    rule = fused_mlp.StepRule(tau=0.5, tangent_scale=-eta * n, eta=eta, bound=bound)
    f = fused.forward_saving(weights, X)[0]
    new, scale, angle = fused.delta_step(weights, f, views, delta, rule)
    w64 = [w.double() for w in weights]
    want, want_scale, want_angle, _ = reference_delta_step(net, w64, X.double(), views.double(), delta.double(), rule)
    assert (want_scale < 1.0) == (bound < 1.0)  # moving Delta, the first-order factor is never cut
    assert scale == pytest.approx(want_scale, rel=1e-3) and angle == pytest.approx(want_angle, rel=1e-3, abs=1e-6)
    assert angle <= bound and relative(new - delta, want - delta.double()) < 1e-3
    grad = fused_mlp.step_gradients(fused, weights, views, delta, rule.tau)[1][-1]
    again = fused.delta_step(weights, f, views, delta, rule, grad)
    assert again[1:] == (scale, angle) and torch.equal(again[0], new)


def test_the_whole_step_declines_what_it_cannot_take():
    """A gradient or weight that is not finite, a view whose output is 0: nn_step and
    delta_step return None (the torch step then takes the step, or says why it cannot)."""
    shape = SHAPES[2]
    _, weights, views, delta = problem(shape)
    fused = fused_for(*shape[:4])
    rule = fused_mlp.StepRule(tau=0.5, tangent_scale=-0.5, eta=0.5, bound=0.5)
    clean = fused.forward_saving(weights, views[0])
    assert fused.nn_step(weights, clean, views, delta, rule) is not None
    nan_grads = [torch.zeros_like(w) for w in weights]
    nan_grads[3][0] = float("nan")
    assert fused.nn_step(weights, clean, views, delta, rule, nan_grads) is None
    at_zero = delta.clone()
    at_zero[0] = -fused.forward_saving(weights, views[1])[0][0]  # view 1 of sample 0: u = 0 exactly
    assert fused.nn_step(weights, clean, views, at_zero, rule) is None
    broken = [w.clone() for w in weights]
    broken[-2][0, 0] = float("inf")
    assert fused.nn_step(broken, fused.forward_saving(broken, views[0]), views, delta, rule) is None
    f = clean[0]
    assert fused.delta_step(weights, f, views, delta, rule) is not None
    nan_grad = torch.zeros_like(delta)
    nan_grad[1, 0] = float("nan")
    assert fused.delta_step(weights, f, views, delta, rule, nan_grad) is None
    assert fused.delta_step(weights, f, views, at_zero, rule) is None
