"""The networks' own forward-mode derivative (`tangent`, from a saved forward pass) against
torch.func.jvp, and the simulation's kept pass over the clean samples against a fresh one."""

from __future__ import annotations

import pytest
import torch
from torch.func import jvp

from sim import Simulation, load_preset
from sim.networks import MLP, AveragingNet
from sim.preset import with_changes

NETWORKS = [
    ("mlp", "tanh"),
    ("mlp", "relu"),
    ("mlp", "gelu"),
    ("mlp", "softplus"),
    ("mlp", "erf"),
    ("averaging", "erf"),
    ("averaging", "relu"),
]


@pytest.mark.parametrize(("kind", "activation"), NETWORKS)
def test_tangent_is_jvp(kind, activation):
    torch.manual_seed(1)
    net = MLP(3, 2, 32, 3, activation, 3.0) if kind == "mlp" else AveragingNet(3, 2, 40, activation)
    X = torch.randn(50, 3)
    weights = tuple(p.detach() for p in net.parameters())
    tangents = tuple(torch.randn_like(w) for w in weights)
    want_out, want = jvp(lambda *w: net.forward_with(w, X), weights, tangents)
    out, saved = net.forward_saving(weights, X)
    got = net.tangent(weights, tangents, saved)
    assert torch.equal(out, want_out)
    if activation in ("tanh", "relu", "erf"):  # the formula torch's forward-mode AD uses: the same numbers
        assert torch.equal(got, want)
    else:
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_tangent_is_the_derivative():
    """Independent of torch's AD: the tangent against a central difference in float64."""
    torch.manual_seed(2)
    net = MLP(2, 2, 16, 3, "tanh", 2.0).double()
    X = torch.randn(20, 2, dtype=torch.float64)
    weights = [p.detach() for p in net.parameters()]
    tangents = [torch.randn_like(w) for w in weights]
    h = 1e-6
    plus = net.forward_with([w + h * t for w, t in zip(weights, tangents)], X)
    minus = net.forward_with([w - h * t for w, t in zip(weights, tangents)], X)
    got = net.tangent(weights, tangents, net.forward_saving(weights, X)[1])
    torch.testing.assert_close(got, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kernel", ["nn", "identity"])
def test_kept_clean_pass_is_a_fresh_pass(kernel):
    """After steps (the kept pass is the one the step rule tried), the pass the next step's
    velocities use equals a fresh forward pass at the new weights, bit for bit (by the run's
    own path: here the compiled one, sim/fused_mlp.py)."""
    sim = Simulation(with_changes(load_preset("fig5-2d"), {"training.kernel": kernel, "training.fit_steps": 20}))

    def fresh() -> torch.Tensor:
        with torch.no_grad():
            return sim._forward_saving([p.detach() for p in sim.params], sim.X)[0]

    sim.step(3)
    kept, _ = sim._clean_pass()
    assert sim._clean is not None and sim._fused() is not None
    assert torch.equal(kept, fresh())
    sim.move_cluster(0, [-2.5, 0.5])  # other samples: the kept pass is not theirs
    assert torch.equal(sim._clean_pass()[0], fresh())


def test_a_tried_step_with_non_finite_weights_is_refused_and_changes_nothing():
    """A weight can overflow while the embeddings stay finite (tanh(inf) = 1): the tried step
    is then refused with Divergence and theta is left as it was."""
    from sim.simulation import Divergence

    sim = Simulation(with_changes(load_preset("fig5-2d"), {"training.fit_steps": 20}))
    sim.step(2)
    before = [p.detach().clone() for p in sim.params]
    weights = [p.detach().clone() for p in sim.params]
    weights[0][0, 0] = float("inf")
    with pytest.raises(Divergence, match="non-finite"):
        sim._take_tried(list(sim.params), weights)
    assert all(torch.equal(p, q) for p, q in zip(sim.params, before))
    sim.step(1)  # and the run goes on
