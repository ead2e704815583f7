"""Simulation: the one object that owns a run's state (data, views, network theta, offsets
Delta, kernel mode, optimiser state, step count) and advances it.

The embedding of a view g(x_i) is z = normalize(f_theta(g(x_i)) + Delta_i). A step draws
nothing new from outside: it uses the views drawn after the previous step, then draws the
next ones, so asking for frames never changes a run. Kernels:
  nn        gradient descent on theta (Delta frozen): points move by -H(theta) grad L;
  identity  gradient descent on Delta (theta frozen): each point by -n grad_{z_i} L;
  limit     Delta moves by -H_inf grad L with the fixed infinite-width kernel H_inf.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from sim import fused_mlp, kernel_evolution, metrics
from sim.budget import check_fits
from sim.frame import Frame
from sim.losses import TileHook, contrastive_loss
from sim.networks import MLP, AveragingNet
from sim.ntk import limit_kernel, trace_ntk
from sim.preset import (
    CHANGEABLE,
    KERNELS,
    LIMIT_MAX_POINTS,
    ChangeSpec,
    ClusterSpec,
    EditSpec,
    LossSpec,
    Preset,
    PresetError,
    SwitchSpec,
    TrainingSpec,
    with_changes,
)
from sim.samples import ClusterRows, Samples, build_samples
from sim.ssl_losses import ByolHead, vicreg_loss
from sim.starts import evenly_spaced, fit_network, fit_network_once, random_cap
from sim.views import make_views

KERNEL_MAX_POINTS = 256
# Process-wide torch state that runs in different threads (the window's worker, an export)
# must take turns with: the global random generator that seeded network initialisation draws
# from (interleaved draws change both networks).
TORCH_STATE_LOCK = threading.RLock()


class Divergence(RuntimeError):
    """The loss or an update was not finite; the state is left as before the step."""


def _scheduled_copy(
    preset: Preset, switches: list[SwitchSpec], edits: list[EditSpec], changes: list[ChangeSpec]
) -> Preset:
    """`preset` with these schedules, its other fields as they are. Every part is a validated
    model already (a drag while playing logs a move a step: validating thousands of them again
    for every frame's snapshot would slow the run), so the copy is not validated again."""
    training = preset.training.model_copy(update={"switches": switches, "changes": changes})
    data = preset.data.model_copy(update={"edits": edits})
    return preset.model_copy(update={"data": data, "training": training})


@dataclasses.dataclass(frozen=True)
class ClusterState:
    """One cluster of a run as it was, to be put back exactly (an undo or a redo): its preset
    entry, its samples and their offsets Delta (count, m)."""

    spec: ClusterSpec
    rows: ClusterRows
    delta: torch.Tensor
    id: int  # its Simulation.cluster_ids entry


def pick_device(name: str, field: str = "device") -> torch.device:
    """'auto' is CUDA when torch sees a GPU, else the CPU; 'cpu', 'cuda' and 'cuda:N' as asked.
    PresetError (one line naming `field`: the preset's `device`, or a command's `--device`)
    for any other name, CUDA without a GPU, or a GPU index out of range."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise PresetError(f"{field}: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PresetError(f"{field}: expected an available device, got {name!r} (torch sees no CUDA GPU)")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise PresetError(f"{field}: expected a GPU index below {torch.cuda.device_count()}, got {name!r}")
    return torch.device(name)


def _cpu(t: torch.Tensor) -> np.ndarray:
    """A numpy copy in the run's precision (a float64 run's frames hold float64)."""
    return t.detach().to("cpu").numpy().copy()


@dataclasses.dataclass(frozen=True)
class _Observed:
    """What velocities() found on the next step's views, with the state it holds for: the
    loss, its gradient by every parameter and Delta (`by_tensor`; None with a BYOL head, whose
    own gradient is not in it), the moves, dL/dDelta, and the clean samples' unit embeddings z
    of this state (what embed() gives, so a step need not compute them again)."""

    views: torch.Tensor
    step: int
    loss_spec: LossSpec
    training: TrainingSpec
    kernel: str
    loss: torch.Tensor
    by_tensor: dict[torch.Tensor, torch.Tensor] | None
    motion: tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]
    g_delta: torch.Tensor
    z: torch.Tensor


def angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n,) angle in radians between unit rows of a and b (2 asin(|a - b| / 2): exact near 0)."""
    return 2 * torch.asin(((a - b).norm(dim=1) / 2).clamp(max=1))


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """Whether every entry of every tensor is finite: the largest |entry| of each, in a few
    calls for the whole list (a small step's time goes to per-tensor calls)."""
    tensors = [t for t in tensors if t.numel()]
    with torch.no_grad():
        return not tensors or bool(torch.stack(torch._foreach_max(torch._foreach_abs(tensors))).isfinite().all())


def tangent_part(z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The part of v tangent to the sphere at unit z (row by row)."""
    return v - (v * z).sum(-1, keepdim=True) * z


class Simulation:
    """A run built from a Preset; `step()` advances it, `frame()` snapshots it.
    `on_tile(done, total)`, when set, is called from inside a contrastive loss after each tile
    of its rows (sim/losses.py): for progress, and an exception raised from it stops a step or
    a frame with the run left exactly as before it. `on_fit(done, total)`, given at
    construction, reports a "fitted" start's fit steps (sim/starts.py fit_network)."""

    on_tile: TileHook | None = None

    def __init__(
        self,
        preset: Preset,
        device: str | None = None,
        dtype: str | None = None,
        source: str = "",
        on_fit: Callable[[int, int], None] | None = None,
    ):
        self.preset = preset
        self.source = source or preset.name  # names the preset's file in errors found while building
        self.device = pick_device(device or preset.device)
        self.dtype = torch.float64 if (dtype or preset.dtype) == "float64" else torch.float32
        self.kernel = preset.training.kernel
        self.step_count = self.started_at = 0
        self.flow_time, self.step_size, self.max_move = 0.0, 0.0, 0.0  # t, the last step's eta and angle
        self.switches: list[tuple[int, str]] = []
        # what to_preset writes: the preset as the run began, and every data edit and setting
        # change since, in order (EditSpec / ChangeSpec), the preset's own scheduled ones as made
        self.start = preset
        self.edit_log: list[EditSpec] = []
        self.edits_made = 0  # data edits made so far, by hand or scheduled (a drag's moves each count)
        self.change_log: list[ChangeSpec] = []
        self._edits_done = self._changes_done = 0
        # each cluster edit's cluster before and after it (None where it does not exist), by its
        # edit_log index: what undo_edit and redo_edit put back
        self._kept: dict[int, tuple[int, ClusterState | None, ClusterState | None]] = {}
        # where each scheduled edit the preset made went in edit_log (edits made by hand between
        # them move them on): what its scheduled undo and redo refer to
        self._replayed: dict[int, int] = {}
        if preset.data.kind in ("clusters", "manifold"):  # known before the samples are drawn
            check_fits(preset, preset.n, preset.data.dim, self.device, self.source)
        self.samples: Samples = build_samples(preset.data, preset.seed, self.device, self.dtype)
        # each cluster's identity through edits (an added one gets a new id, a removed one's goes,
        # an undone removal brings its id back): what the curves follow a cluster's history by
        self.cluster_ids: list[int] = list(range(self.samples.num_clusters))
        check_fits(preset, self.samples.n, self.X.shape[1], self.device, self.source)
        self._params_of: torch.nn.Module | None = None  # the network `params` lists
        self._clean: tuple | None = None  # the network's pass over the clean samples (_clean_pass)
        self._make_model()
        self._make_start(on_fit)
        self._check_outputs_defined()
        self._start_model = copy.deepcopy(self.model)  # theta as the run started: H0 of kernel_evolution
        self._kernel_at_start: tuple[Samples, torch.Tensor, torch.Tensor] | None = None
        self._make_optimisers()
        self.views_generator = torch.Generator().manual_seed(preset.seed + 1)  # on the CPU: see _draw_views
        self._views_state = self.views_generator.get_state()
        self._limit_H: torch.Tensor | None = None
        self._views = self._draw_views()
        self._observed: _Observed | None = None
        self._scheduled()

    # ----- construction -------------------------------------------------------------
    @property
    def X(self) -> torch.Tensor:
        """(n, d) clean samples on the run's device."""
        return self.samples.X

    @property
    def labels(self) -> torch.Tensor:
        """(n,) cluster of each sample, sorted (colours and metrics only; never the loss)."""
        return self.samples.labels

    @property
    def num_clusters(self) -> int:
        return self.samples.num_clusters

    def _make_model(self) -> None:
        net = self.preset.network
        with TORCH_STATE_LOCK, torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.preset.seed)
            if net.kind == "averaging":
                model = AveragingNet(self.X.shape[1], net.latent_dim, net.width, net.activation)
            else:
                model = MLP(self.X.shape[1], net.latent_dim, net.width, net.depth, net.activation, net.init_gain)
        self.model = model.to(self.device, self.dtype)
        loss = self.preset.loss
        self.head = None
        if loss.kind == "byol":
            with TORCH_STATE_LOCK:
                self.head = ByolHead(
                    self.model,
                    net.latent_dim,
                    loss.byol_predictor_width,
                    loss.byol_ema,
                    self.preset.training.lr,
                    self.preset.seed,
                )

    def _make_start(self, on_fit: Callable[[int, int], None] | None = None) -> None:
        """Delta = 0 for the network's own start and for "fitted" (the network itself fitted
        to evenly spaced targets, sim/starts.py fit_network); otherwise the map is made
        data-blind and invariant (the MLP's output layer zeroed) and Delta = target - f_theta(X)."""
        train, m, n = self.preset.training, self.preset.network.latent_dim, self.X.shape[0]
        self.delta = torch.zeros(n, m, device=self.device, dtype=self.dtype)
        if train.start == "network":
            return
        gen = torch.Generator().manual_seed(self.preset.seed + 2)
        if train.start == "fitted":
            p, X = self.preset, self.X
            if train.fit_clusters:  # the data was edited after the fit: fit on the data as it was
                fit_data = p.data.model_copy(update={"clusters": train.fit_clusters})
                X = build_samples(fit_data, p.seed, self.device, self.dtype).X
            # The fit runs on the CPU whatever the run's device (its batch keeps it small), so a
            # run starts from the same weights on a GPU as on the CPU.
            X = X.cpu()
            target = train.start_scale * evenly_spaced(X.shape[0], m, gen, torch.float64).to(self.dtype)
            samples = hashlib.sha256(X.numpy().tobytes()).hexdigest()
            fit_spec = (train.fit_steps, train.fit_noise, train.start_scale)
            key = (samples, self.dtype, p.seed, p.network, fit_spec)
            jitter = torch.Generator().manual_seed(p.seed + 3)
            model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
            fit = partial(fit_network, model, X, target, train.fit_steps, train.fit_noise, jitter, on_fit)
            fit_network_once(key, fit, model)
            if model is not self.model:
                self.model.load_state_dict(model.state_dict())
            return
        if train.start == "uniform":
            target = evenly_spaced(n, m, gen, torch.float64)
        elif train.start == "clump":
            target = random_cap(n, m, train.clump_width, gen, torch.float64)
        else:
            target = self._given_points(train.start_points, n, m)
        if isinstance(self.model, MLP):
            self.model.zero_output()
        with torch.no_grad():
            self.delta = train.start_scale * target.to(self.device, self.dtype) - self.model(self.X)

    @staticmethod
    def _given_points(path: str, n: int, m: int) -> torch.Tensor:
        try:
            points = np.load(Path(path))
        except (OSError, ValueError) as exc:
            raise PresetError(f"{path}: training.start_points: cannot read as .npy: {exc}") from exc
        if points.shape != (n, m) or not np.all(np.isfinite(points)):
            raise PresetError(
                f"{path}: training.start_points: expected {n} x {m} finite floats, got shape {points.shape}"
            )
        norms = np.linalg.norm(points, axis=1)
        if np.any(norms == 0):
            raise PresetError(f"{path}: training.start_points: expected non-zero rows")
        return torch.from_numpy(points / norms[:, None]).to(torch.float64)

    def _make_optimisers(self) -> None:
        self.delta.requires_grad_(True)
        self.theta_opt = self._optimiser(list(self.model.parameters()), self.preset.training.lr)
        self.delta_opt = self._optimiser([self.delta], self.preset.training.lr_points)
        self.limit_opt = self._optimiser([self.delta], self.preset.training.lr)

    def _optimiser(self, params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
        train = self.preset.training
        if train.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr)
        return torch.optim.SGD(params, lr=lr, momentum=train.momentum if train.optimizer == "momentum" else 0.0)

    # ----- the model ------------------------------------------------------------------
    @property
    def params(self) -> list[torch.Tensor]:
        """theta: the network's parameter tensors in parameters() order, listed once per
        network (walking the modules costs more than a small step's arithmetic)."""
        if self._params_of is not self.model:
            self._params, self._params_of = list(self.model.parameters()), self.model
        return self._params

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def _draw_views(self) -> torch.Tensor:
        """The next step's views, drawn from the random state saved after the last step: after
        a data edit they are redrawn from that same state, so a run that starts from the
        edited data (a saved preset) draws the very same views. They are drawn on the CPU and
        moved to the run's device, so a run sees the same views on a GPU as on the CPU."""
        self.views_generator.set_state(self._views_state)
        tangents = self.samples.tangents
        tangents = None if tangents is None else tangents.cpu()  # .cpu() and .to(cpu): no copies on the CPU
        return make_views(self.X.cpu(), self.preset.views, self.views_generator, tangents).to(self.device)

    def _raw(self, inputs: torch.Tensor) -> torch.Tensor:
        """u = f_theta(inputs) + Delta for (V, n, d) or (n, d) inputs of the n samples."""
        flat = inputs.reshape(-1, inputs.shape[-1])
        return self.model.forward_with(self.params, flat).reshape(*inputs.shape[:-1], -1) + self.delta

    def raw_outputs(self) -> torch.Tensor:
        """(n, m): u = f_theta(x_i) + Delta_i of the clean samples, before projection; no
        gradient. From the kept pass over the clean samples (`_clean_pass`) when it holds."""
        with torch.no_grad():
            return self._clean_pass()[0] + self.delta

    def embed(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Unit embeddings of the clean samples (or of (V, n, d) views), no gradient."""
        with torch.no_grad():
            u = self.raw_outputs() if inputs is None else self._raw(inputs)
            return u / u.norm(dim=-1, keepdim=True)

    def _check_outputs_defined(self) -> None:
        """z = u / |u| is undefined where u = f_theta(x) + Delta is exactly 0 (all units off at
        a sample, e.g. ReLU with a cluster of radius 0 at the origin, or an odd activation of
        an averaging net, which has no bias, at x = 0): refused with that cause."""
        zero = torch.nonzero(self.raw_outputs().norm(dim=-1) == 0).flatten()
        if len(zero):
            i = int(zero[0])
            x = ", ".join(f"{v:g}" for v in self.X[i].tolist()[:4])
            raise PresetError(
                f"{self.source}: network.activation: the network's output is exactly 0 at {len(zero)} sample(s) (sample {i} at x = ({x}...)), so the "
                f"embedding f/|f| is undefined there; a {self.preset.network.kind} net with "
                f"{self.preset.network.activation} has every unit off there: move or widen that cluster, or change "
                "network.activation"
            )

    def _zero_view_output(self) -> Divergence:
        return Divergence(
            f"step {self.step_count}: the network's output is exactly 0 for a view, so its embedding f/|f| is "
            "undefined; the run keeps its last good state (views that land where every unit is off: change the "
            "data, the view noise or network.activation)"
        )

    def _fused(self) -> fused_mlp.FusedMLP | None:
        """The compiled step calls (sim/fused_mlp.py) when they serve this run as it is now."""
        loss, views = self.preset.loss, self.preset.views.count
        return fused_mlp.plan(
            self.model, loss.kind, loss.tau, views, views * self.n, self.dtype, self.device, self.head
        )

    def _gradients(self, views: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """The loss on `views` (V, n, d), its gradient by every parameter and by Delta (in that
        order) and the views' unit embeddings Z (V, n, m), detached: by the compiled calls where
        they serve, else through autograd. No BYOL head (its gradient is not among them)."""
        params = self.params
        fused = self._fused()
        if fused is None:
            loss, Z = self._loss_of(views)
            return loss, list(torch.autograd.grad(loss, [*params, self.delta])), Z.detach()
        # the C code reads the weights' memory: no detached copies needed
        found = fused_mlp.step_gradients(fused, params, views, self.delta.detach(), self.preset.loss.tau)
        if found is None:
            raise self._zero_view_output()
        loss, grads, u = found
        return torch.tensor(loss, dtype=self.dtype), grads, u / u.norm(dim=-1, keepdim=True)

    def _forward_saving(self, weights: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """The network's forward_saving at `weights` (callers hold torch.no_grad), by the compiled calls where they serve."""
        fused = self._fused()
        return (fused or self.model).forward_saving(weights, x)

    def _loss_of(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self._raw(views)
        norm = u.norm(dim=-1, keepdim=True)
        if not bool((norm > 0).all()):
            raise self._zero_view_output()
        Z = u / norm
        loss = self.preset.loss
        if loss.kind == "vicreg":
            return vicreg_loss(Z, loss.vicreg_invariance, loss.vicreg_variance, loss.vicreg_covariance), Z
        if loss.kind == "byol":
            return self.head.loss(Z, views, self.delta), Z
        return contrastive_loss(Z, loss.kind, loss.tau, loss.psi, on_tile=self.on_tile), Z

    def limit_H(self) -> torch.Tensor:
        """The fixed infinite-width kernel on the current data, computed once per data."""
        if self.n > LIMIT_MAX_POINTS:
            raise PresetError(f"training.kernel: 'limit' handles at most {LIMIT_MAX_POINTS} samples, got {self.n}")
        if self._limit_H is None:
            gen = torch.Generator().manual_seed(self.preset.seed + 3)  # on the CPU: the same draws on a GPU
            with TORCH_STATE_LOCK:
                self._limit_H = limit_kernel(self.model, self.X, self.preset.training.limit_draws, gen).detach()
        return self._limit_H

    # ----- stepping -------------------------------------------------------------------
    def set_kernel(self, kernel: str) -> None:
        """Switch kernels between two steps; theta and Delta persist, so Z is continuous."""
        if kernel not in KERNELS:
            raise PresetError(f"kernel: expected one of {', '.join(KERNELS)}, got {kernel!r}")
        if kernel == "limit":
            self.limit_H()
        if kernel != self.kernel:
            self.kernel = kernel
            self.switches.append((self.step_count, kernel))

    def step(self, count: int = 1) -> None:
        for _ in range(count):
            self._step_once()

    def _scheduled(self) -> None:
        """What the preset schedules at the step now, taken when the run reaches that step (at
        its start, or as the step before ends): kernel switches, so the kernel a frame shows is
        the one the next step uses and a switch made by hand at that step wins; then setting
        changes and data edits, in their order (a saved run's, to_preset)."""
        for switch in self.preset.training.switches:
            if switch.step == self.step_count:
                self.set_kernel(switch.kernel)
        changes, edits = self.start.training.changes, self.start.data.edits
        while self._changes_done < len(changes) and changes[self._changes_done].step <= self.step_count:
            change = changes[self._changes_done]
            self._changes_done += 1
            if change.step == self.step_count:
                self.change({change.field: change.value})
        while self._edits_done < len(edits) and edits[self._edits_done].step <= self.step_count:
            edit, index = edits[self._edits_done], self._edits_done
            self._edits_done += 1
            if edit.step == self.step_count:
                last = self.edit_log[-1] if self.edit_log else None
                try:
                    self._replay(edit)
                except PresetError as exc:
                    raise PresetError(
                        f"{self.source}: data.edits[{index}] ({edit.op} at step {edit.step}): {exc}"
                    ) from None
                if self.edit_log and self.edit_log[-1] is not last:  # not an edit that changed nothing
                    self._replayed[index] = len(self.edit_log) - 1

    def _step_once(self) -> None:
        found = self._compiled_step()
        step_size, clean, moved = self._rule_step() if found is None else found
        self.step_count += 1
        self.step_size = step_size
        self.flow_time += step_size
        if clean is not None:
            self._keep_clean_pass(clean)
        self.max_move = moved
        self._views_state = self.views_generator.get_state()
        self._views = self._draw_views()
        self._scheduled()

    def _compiled_step(self) -> tuple[float, tuple | None, float] | None:
        """The step as one compiled call where that serves: plain gradient descent under the
        step rule (max_move > 0), no BYOL head, the compiled calls serving this run (`_fused`),
        and the NN kernel with every weight trained (FusedMLP.nn_step) or the identity kernel
        (FusedMLP.delta_step). Returns (the step size, the pass over the clean samples at the
        new weights or None when they stay, the largest angle an embedding moved); None where
        it does not serve or did not find the step (`_rule_step` then takes it). With or
        without a frame before it (whose gradients it then takes), the same numbers."""
        train = self.preset.training
        if self.kernel == "limit" or self.head is not None or train.optimizer != "gd" or train.max_move == 0:
            return None
        fused, params = self._fused(), self.params
        if fused is None or (self.kernel == "nn" and not all(p.requires_grad for p in params)):
            return None
        cached = self._take_next_gradient()
        with torch.no_grad():
            if self.kernel == "identity":
                eta = self.delta_opt.param_groups[0]["lr"]
                rule = fused_mlp.StepRule(self.preset.loss.tau, -train.lr_points * self.n, eta, train.max_move)
                grad = None if cached is None else cached[1][self.delta]
                found = fused.delta_step(params, self._clean_pass()[0], self._views, self.delta, rule, grad)
                if found is None:
                    return None
                delta, scale, moved = found
                self.delta.copy_(delta)
                return eta * scale, None, moved
            eta = self.theta_opt.param_groups[0]["lr"]
            rule = fused_mlp.StepRule(self.preset.loss.tau, -train.lr, eta, train.max_move)
            grads = None if cached is None else [cached[1][p] for p in params]
            found = fused.nn_step(params, self._clean_pass(), self._views, self.delta, rule, grads)
            if found is None:
                return None
            weights, clean, scale, moved = found
            torch._foreach_copy_(params, weights)
        return eta * scale, clean, moved

    def _rule_step(self) -> tuple[float, tuple | None, float]:
        """The step through torch operations (any kernel, optimiser and network): the
        gradients, then the step rule (`_first_order_scale`, `_checked_scale`) and the move.
        Returns what `_compiled_step` does (the pass None when not tried)."""
        moving = [p for p in self.params if p.requires_grad] if self.kernel == "nn" else [self.delta]
        first_order = self._first_order_scale()
        cached = self._take_next_gradient()
        if cached is not None:
            loss, by_tensor = cached
            grads, head_grads = [by_tensor[p] for p in moving], []
        elif self.head is None and self._fused() is not None:  # the compiled calls give every gradient at once
            loss, found, _ = self._gradients(self._views)
            by_tensor = dict(zip([*self.params, self.delta], found))
            grads, head_grads = [by_tensor[p] for p in moving], []
        else:  # autograd for the moved tensors alone (Delta's gradient needs no pass through the network)
            loss, _ = self._loss_of(self._views)
            head = self.head.parameters() if self.head else []
            grads = list(torch.autograd.grad(loss, moving + head))
            grads, head_grads = grads[: len(moving)], grads[len(moving) :]
        if self.kernel == "identity":
            grads = [self.n * grads[0]]
        elif self.kernel == "limit":
            grads = [torch.einsum("ijkl,jl->ik", self.limit_H(), grads[0])]
        self._check_finite(loss, (*grads, *head_grads))
        opt = {"nn": self.theta_opt, "identity": self.delta_opt, "limit": self.limit_opt}[self.kernel]
        eta = opt.param_groups[0]["lr"]
        seen = self._observed
        before = seen.z if seen is not None and self._still(seen, settings=False) else self.embed()
        scale, after, moved = self._checked_scale(first_order, moving, grads, eta, before)
        if after is not None:  # plain gradient descent, tried: the step is the weights tried
            self._take_tried(moving, after[2])
        else:
            for p, g in zip(moving, grads):
                p.grad = g
            for group in opt.param_groups:
                group["lr"] = eta * scale
            try:
                self._accepted_step(opt, moving)
            finally:
                for group in opt.param_groups:
                    group["lr"] = eta
        if self.head:
            self.head.step(head_grads, self.model)
        if after is None:
            return eta * scale, None, float(angles(before, self.embed()).max())
        return eta * scale, after[1], moved

    def _accepted_step(self, optimiser: torch.optim.Optimizer, moving: list[torch.Tensor]) -> None:
        """The optimiser's step, kept only if every tensor it moved stays finite; otherwise the
        tensors and the optimiser's state are put back and Divergence says so."""
        before = [p.detach().clone() for p in moving]
        state = copy.deepcopy(optimiser.state_dict()) if optimiser.state else None  # plain SGD keeps none
        optimiser.step()
        if _all_finite(moving):
            return
        with torch.no_grad():
            for p, old in zip(moving, before):
                p.copy_(old)
        if state is None:
            optimiser.state.clear()
        else:
            optimiser.load_state_dict(state)
        raise self._non_finite_update()

    def _take_tried(self, moving: list[torch.Tensor], weights: list[torch.Tensor]) -> None:
        """Plain gradient descent's step as `_tried` computed it (the very arithmetic of
        torch's SGD, p - lr g): the tried weights are copied in if all are finite; otherwise
        nothing changes and Divergence says so."""
        if not _all_finite(weights):
            raise self._non_finite_update()
        with torch.no_grad():
            torch._foreach_copy_(moving, weights)

    def _non_finite_update(self) -> Divergence:
        return Divergence(
            f"step {self.step_count}: the update made the {'network' if self.kernel == 'nn' else 'offsets'} "
            "non-finite; the run keeps its last good state (lower the step size)"
        )

    def _first_order_scale(self) -> float:
        """The step rule, first part: the factor (<= 1) on this step's step size that keeps the
        largest angular move of any embedding, to first order (the velocities of this state),
        at training.max_move radians; 1 when max_move is 0."""
        bound = self.preset.training.max_move
        if bound == 0:
            return 1.0
        largest = float(self._observe().motion[1][self.kernel].norm(dim=1).max())
        return 1.0 if largest <= bound else bound / largest

    def _checked_scale(
        self, scale: float, moving: list[torch.Tensor], grads: list[torch.Tensor], eta: float, before: torch.Tensor
    ) -> tuple[float, tuple[torch.Tensor, tuple, list[torch.Tensor]] | None, float | None]:
        """The step rule, second part (plain gradient descent): the step is tried on the clean
        samples with the very arithmetic the optimiser uses, and while some embedding would
        move more than max_move the factor shrinks (to 0.95 of the bound over the move).
        Deterministic in the state, so a replay makes the same choices. Returns the factor,
        what `_tried` gives at that factor (the embeddings, the network's pass over the clean
        samples and the moved tensors' new values) and the largest angle it moves an embedding
        (both None when not tried: max_move 0 or another optimiser, or 20 cuts without
        reaching the bound)."""
        bound = self.preset.training.max_move
        if bound == 0 or self.preset.training.optimizer != "gd":
            return scale, None, None
        for _ in range(20):
            tried = self._tried(moving, grads, eta * scale)
            moved = float(angles(before, tried[0]).max())
            if moved <= bound:
                return scale, tried, moved
            scale *= 0.95 * bound / moved
        return scale, None, None

    def _tried(
        self, moving: list[torch.Tensor], grads: list[torch.Tensor], lr: float
    ) -> tuple[torch.Tensor, tuple, list[torch.Tensor]]:
        """(n, m) embeddings of the clean samples after a plain step of size lr along grads;
        the network's pass over the samples at the weights that step gives (forward_saving's;
        the kept one when the step moves only Delta); and the moved tensors' new values."""
        with torch.no_grad():
            moved = torch._foreach_add(moving, grads, alpha=-lr)  # p - lr g, as torch's SGD
            new = {id(p): w for p, w in zip(moving, moved)}
            params = self.params
            if any(id(p) in new for p in params):
                f_X, saved = self._forward_saving([new.get(id(p), p) for p in params], self.X)
            else:
                f_X, saved = self._clean_pass()
            u = f_X + new.get(id(self.delta), self.delta.detach())
            return u / u.norm(dim=1, keepdim=True), (f_X, saved), moved

    def _clean_pass(self) -> tuple[torch.Tensor, tuple]:
        """(f_theta(X), saved) of the clean samples at the current weights (forward_saving),
        kept until the samples, the network or a parameter change (torch counts every in-place
        change of a tensor: a step, a load); no gradient."""
        params = self.params
        versions = [p._version for p in params]
        kept = self._clean
        if kept is None or kept[0] is not self.samples or kept[1] != versions or kept[2] is not params:
            with torch.no_grad():
                kept = (self.samples, versions, params, self._forward_saving(params, self.X))
            self._clean = kept
        return kept[3]

    def _keep_clean_pass(self, found: tuple[torch.Tensor, tuple]) -> None:
        """Keep `found`, a pass over the clean samples at the current weights (the step just taken tried it)."""
        params = self.params
        self._clean = (self.samples, [p._version for p in params], params, found)

    def _take_next_gradient(self) -> tuple[torch.Tensor, dict[torch.Tensor, torch.Tensor]] | None:
        """The loss and gradients a frame computed on the next step's views, if nothing that
        changes them (a step, an edit, a loss setting) happened since: the step then skips
        its own forward and backward pass and lands on the very same numbers."""
        seen = self._observed
        if seen is None or seen.by_tensor is None or not self._still(seen, settings=False):
            return None
        return seen.loss, seen.by_tensor

    def _check_finite(self, loss: torch.Tensor, updates: tuple[torch.Tensor, ...]) -> None:
        if not _all_finite([loss, *updates]):
            raise Divergence(
                f"step {self.step_count}: the {'loss' if not torch.isfinite(loss) else 'update'} is not finite; "
                "the run keeps its last good state (lower the step size)"
            )

    # ----- observing ------------------------------------------------------------------
    def point_gradients(self) -> torch.Tensor:
        """(n, m): dL/du_j for each sample j, summed over its views, on the next step's views
        (the gradient with respect to Delta); taken from `velocities` of this same state."""
        return self._observe().g_delta

    def _still(self, seen: _Observed, settings: bool) -> bool:
        """Whether `seen` holds for now: same views (redrawn by steps and edits), step and loss
        settings; with `settings`, also the same training settings and kernel (the moves)."""
        same = seen.views is self._views and seen.step == self.step_count and seen.loss_spec == self.preset.loss
        return same and (not settings or (seen.training == self.preset.training and seen.kernel == self.kernel))

    def _observe(self) -> _Observed:
        """velocities() on the next step's views, with the gradients that came with them,
        computed once per state: a frame, the cluster flow after it and the next step share
        one loss and gradient."""
        if self._observed is None or not self._still(self._observed, settings=True):
            self._velocities(self._views)
        return self._observed

    def velocities(
        self, views: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """The loss on `views` (default: the next step's), and for each kernel the tangent
        displacement of every clean embedding that one step of that kernel gives, computed
        without building H: the NN one as one vjp (grad_theta L) then one forward-mode
        derivative at the samples (J_theta f(X) along -lr grad_theta L, sim/networks.py tangent)."""
        if views is None or views is self._views:
            loss, moves, Z = self._observe().motion
            return loss, dict(moves), Z
        return self._velocities(views)

    def _velocities(self, views: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """velocities() on `views`; on the next step's, kept with its gradients (_Observed)."""
        params = self.params
        if self.head is None:
            loss, grads, Z = self._gradients(views)
        else:
            loss, Z = self._loss_of(views)
            grads = torch.autograd.grad(loss, [*params, self.delta])
        g_theta, g_delta = grads[:-1], grads[-1].detach()
        lr = self.preset.training
        with torch.no_grad():
            f_X, saved = self._clean_pass()  # often the pass the last step tried, kept
            fused = self._fused()
            if fused is None:
                du_nn = self.model.tangent(params, [-lr.lr * g for g in g_theta], saved)
            else:
                du_nn = fused.tangent(params, g_theta, saved, -lr.lr)
            u = f_X + self.delta
            norm = u.norm(dim=1, keepdim=True)
            z = u / norm
        moves = {"nn": du_nn, "identity": -lr.lr_points * self.n * g_delta}
        if self.kernel == "limit":
            moves["limit"] = -lr.lr * torch.einsum("ijkl,jl->ik", self.limit_H(), g_delta)
        motion = loss.detach(), {k: tangent_part(z, du.detach()) / norm for k, du in moves.items()}, Z.detach()
        if views is self._views:
            by_tensor = dict(zip([*params, self.delta], grads)) if self.head is None else None
            self._observed = _Observed(
                views, self.step_count, self.preset.loss, self.preset.training,
                self.kernel, loss.detach(), by_tensor, motion, g_delta, z,
            )  # fmt: skip
        return motion

    def kernel_sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace kernel of H(theta) on at most KERNEL_MAX_POINTS samples sorted by cluster,
        and those samples' indices."""
        idx = metrics.subsample(self.n, KERNEL_MAX_POINTS, self.device)
        idx = idx[torch.argsort(self.labels[idx], stable=True)]
        return trace_ntk(self.model, self.X[idx]).detach(), idx

    def start_kernel(self, idx: torch.Tensor) -> torch.Tensor:
        """(s, s) trace kernel of the network as the run started (theta at step 0) on the
        samples `idx` of the current data, cached until the data or `idx` change."""
        seen = self._kernel_at_start
        if seen is None or seen[0] is not self.samples or not torch.equal(seen[1], idx):
            self._kernel_at_start = (self.samples, idx, trace_ntk(self._start_model, self.X[idx]).detach())
        return self._kernel_at_start[2]

    def frame(self, with_kernel: bool = False, block_ratio: bool = True) -> Frame:
        """A numpy snapshot: embeddings, loss, every metric, velocities for each kernel and,
        if asked, the kernel heatmap. The kernel block ratio needs H(theta) on a subsample;
        with block_ratio=False (and no heatmap) it is skipped and reported as nan."""
        loss, moves, Z_views = self.velocities()
        z = self._observe().z  # the clean embeddings the velocities came with (no second forward pass)
        k = self.num_clusters
        means = metrics.cluster_means(z, self.labels, k)
        centers = means / means.norm(dim=1, keepdim=True).clamp_min(1e-12)
        H, idx = self.kernel_sample() if with_kernel or block_ratio else (None, None)
        evolution = (
            kernel_evolution.measures(H, self.start_kernel(idx), self.labels[idx])
            if H is not None
            else kernel_evolution.empty()
        )
        scalars = {
            "alignment": metrics.alignment(Z_views),
            "uniformity": metrics.uniformity(z),
            "silhouette": metrics.silhouette(z, self.labels),
            "invariance": metrics.invariance_error(Z_views),
            "block_ratio": metrics.block_ratio(H, self.labels[idx]) if H is not None else float("nan"),
        }
        per_cluster = {
            "R": metrics.resultant_lengths(means),
            "neighbour_angle": metrics.neighbour_angles(means),
        }
        cluster_moves = {
            name: tangent_part(centers, metrics.cluster_means(v, self.labels, k)) for name, v in moves.items()
        }

        return self._frame(
            z,
            centers,
            loss=float(loss),
            metrics=scalars,
            cluster_metrics={name: _cpu(v) for name, v in per_cluster.items()},
            velocity={name: _cpu(v) for name, v in moves.items()},
            cluster_velocity={name: _cpu(v) for name, v in cluster_moves.items()},
            H=_cpu(H) if with_kernel else None,
            H_index=idx.cpu().numpy().copy() if with_kernel else None,
            kernel_evolution=evolution,
        )

    def preview(self) -> Frame:
        """The embeddings alone, from one forward pass of the clean samples: no loss (nan), no
        metrics, no velocities. What a window shows at once after an edit when a whole frame
        takes long (large n on a CPU)."""
        z = self.embed()
        means = metrics.cluster_means(z, self.labels, self.num_clusters)
        centers = means / means.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return self._frame(
            z, centers, loss=float("nan"), metrics={}, cluster_metrics={}, velocity={}, cluster_velocity={}
        )

    def _frame(self, z: torch.Tensor, centers: torch.Tensor, **rest) -> Frame:
        """A Frame of this run now: its step, kernel, data and embeddings z, with `rest`."""
        return Frame(
            step=self.step_count,
            kernel=self.kernel,
            flow_time=self.flow_time,
            step_size=self.step_size,
            max_move=self.max_move,
            started_at=self.started_at,
            cluster_ids=np.array(self.cluster_ids, dtype=np.int64),
            X=_cpu(self.X),
            labels=self.labels.cpu().numpy().copy(),
            Z=_cpu(z),
            centers=_cpu(centers),
            **rest,
        )

    def as_now(self) -> Preset:
        """The preset of this run as it is now: its data and settings as edited and changed,
        every kernel switch as a schedule and no edit or change left to make (what the
        window's panels show, and what a restart or a sweep of the run starts from)."""
        return _scheduled_copy(self.preset, self._switch_schedule(), [], [])

    def _switch_schedule(self) -> list[SwitchSpec]:
        """Every kernel switch, scheduled or made by hand, in step order."""
        made = {(s.step, s.kernel) for s in self.preset.training.switches} | set(self.switches)
        return [SwitchSpec(step=step, kernel=kernel) for step, kernel in sorted(made)]

    def to_preset(self) -> Preset:
        """A preset that replays this run exactly: the data and settings it began with, and as
        schedules every kernel switch (scheduled or made by hand), data edit (undo and redo
        included) and setting change made so far, with the ones its preset schedules later."""
        pending = self.start.data.edits[self._edits_done :]
        edits = self.edit_log + [self._renumbered(edit) for edit in pending]
        changes = self.change_log + self.start.training.changes[self._changes_done :]
        return _scheduled_copy(self.start, self._switch_schedule(), edits, changes)

    def _renumbered(self, edit: EditSpec) -> EditSpec:
        """A scheduled edit not yet made, as to_preset writes it after edit_log: an undo or
        redo names the edit it refers to by its place in the written list."""
        if edit.op not in ("undo", "redo"):
            return edit
        if edit.edit < self._edits_done:  # made: where it went in edit_log
            ref = self._replayed.get(edit.edit, edit.edit)
        else:  # also still to come
            ref = len(self.edit_log) + edit.edit - self._edits_done
        return edit.model_copy(update={"edit": ref})

    # ----- settings the window changes during a run ---------------------------------------------
    def change(self, changes: dict[str, object]) -> None:
        """Set settings that a run takes between two steps (dotted preset fields: 'loss.tau',
        'views.noise', 'training.lr', 'training.lr_points'), validated by the preset model
        (PresetError, the run untouched, when a value is out of range); step sizes reach the
        optimisers at once."""
        allowed = set(CHANGEABLE)
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise PresetError(f"{unknown[0]}: not a setting a running simulation changes (these: {sorted(allowed)})")
        self.preset = with_changes(self.preset, changes, "setting")
        for field, value in changes.items():
            last = self.change_log[-1] if self.change_log else None
            if last is not None and (last.step, last.field) == (self.step_count, field):
                self.change_log.pop()  # the same setting again at the same step: its last value
            self.change_log.append(ChangeSpec(step=self.step_count, field=field, value=value))
        train = self.preset.training
        for opt, lr in ((self.theta_opt, train.lr), (self.limit_opt, train.lr), (self.delta_opt, train.lr_points)):
            for group in opt.param_groups:
                group["lr"] = lr

    # ----- edits ----------------------------------------------------------------------
    def move_cluster(self, k: int, center: list[float] | np.ndarray) -> None:
        """Translate cluster k's samples so its center is `center`; the run continues on the
        moved data (the views of the next step are redrawn from it)."""
        self._check_index(k)
        self._check_editable()
        new = self._checked_center(center)
        self._edited(with_changes(self.preset, {f"data.clusters[{k}].center": new}, "cluster"))
        self._take(self.samples.with_centers(self.preset.data.clusters))
        self._log("move", k, center=new)

    def add_cluster(self, center: list[float] | np.ndarray, count: int, radius: float, index: int | None = None) -> int:
        """Insert a cluster of `count` samples uniform in the ball of `radius` about `center`
        at `index` (default: last; the clusters from there move up one); their offsets Delta
        copy those of random existing samples, so the start type holds. Returns its index."""
        k = self.num_clusters if index is None else index
        self._keeping(k, (False, True), lambda: self._add(center, count, radius, k))
        return k

    def _add(self, center: list[float] | np.ndarray, count: int, radius: float, k: int) -> None:
        self._check_editable()
        if not 0 <= k <= self.num_clusters:
            raise PresetError(f"cluster: expected an index from 0 to {self.num_clusters}, got {k}")
        cluster = {"center": self._checked_center(center), "count": count, "radius": float(radius)}
        specs = [c.model_dump() for c in self.preset.data.clusters]
        self._edited(with_changes(self.preset, {"data.clusters": [*specs[:k], cluster, *specs[k:]]}, "cluster"))
        self._take(*self.samples.added(k, self.preset.data.clusters, self._edit_generator))
        self.cluster_ids.insert(k, max(self.cluster_ids, default=-1) + 1)
        self._log("add", k, center=cluster["center"], count=count, radius=float(radius))

    def remove_cluster(self, k: int) -> None:
        """Delete cluster k and its samples; the clusters after it move down one index."""

        def remove() -> None:
            self._remove(k)
            self._log("remove", k)

        self._keeping(k, (True, False), remove)

    def _remove(self, k: int) -> None:
        self._check_index(k)
        if self.num_clusters == 1:
            raise PresetError("cluster: cannot remove the last cluster")
        specs = [c.model_dump() for c in self.preset.data.clusters]
        self._edited(with_changes(self.preset, {"data.clusters": specs[:k] + specs[k + 1 :]}, "cluster"))
        self._take(*self.samples.removed(k, self.preset.data.clusters))
        del self.cluster_ids[k]

    def set_cluster_count(self, k: int, count: int) -> None:
        """Grow cluster k with fresh samples (Delta copied from its own samples) or shrink it
        by dropping its last samples."""
        self._check_editable()
        self._check_index(k)
        if count != self.preset.data.clusters[k].count:
            self._keeping(k, (True, True), lambda: self._recount(k, count))

    def _recount(self, k: int, count: int) -> None:
        self._edited(with_changes(self.preset, {f"data.clusters[{k}].count": count}, "cluster"))
        self._take(*self.samples.recounted(k, self.preset.data.clusters, self._edit_generator))
        self._log("count", k, count=count)

    def set_cluster_radius(self, k: int, radius: float) -> None:
        """Scale cluster k's samples about its center to the new radius (from a radius of 0
        they are drawn afresh, uniformly in the ball)."""
        self._check_editable()
        self._check_index(k)
        self._keeping(k, (True, True), lambda: self._resize(k, radius))

    def _resize(self, k: int, radius: float) -> None:
        old = self.preset.data.clusters[k].radius
        self._edited(with_changes(self.preset, {f"data.clusters[{k}].radius": float(radius)}, "cluster"))
        self._take(self.samples.resized(k, old, self.preset.data.clusters, self._edit_generator))
        self._log("radius", k, radius=float(radius))

    def cluster_state(self, k: int) -> ClusterState:
        """Cluster k as it is now (copies), to be put back (undo_edit, redo_edit)."""
        self._check_index(k)
        mine = self.labels == k
        spec, rows = self.preset.data.clusters[k], self.samples.cluster_rows(k)
        return ClusterState(spec, rows, self.delta.detach()[mine].clone(), self.cluster_ids[k])

    def _restore(self, k: int, state: ClusterState | None, present: bool) -> None:
        """Cluster k put back as `state` kept it: replaced when `present` (the cluster exists
        now), inserted at k otherwise (those from k on move up one); removed when `state` is
        None. The samples are the kept ones, bit for bit; the samples the cluster has now keep
        their offsets Delta, and the ones that come back get their kept Delta."""
        if state is None:
            self._remove(k)
            return
        ids = list(self.cluster_ids)
        ids[k : k + int(present)] = [state.id]
        specs = [c.model_dump() for c in self.preset.data.clusters]
        if present:
            self._check_index(k)
            specs[k] = state.spec.model_dump()
        else:
            if not 0 <= k <= self.num_clusters:
                raise PresetError(f"cluster: expected an index from 0 to {self.num_clusters}, got {k}")
            specs.insert(k, state.spec.model_dump())
        self._edited(with_changes(self.preset, {"data.clusters": specs}, "cluster"))
        samples, source = self.samples.with_cluster(k, state.rows, self.preset.data.clusters, insert=not present)
        self._take(samples, source, state.delta)
        self.cluster_ids = ids

    def _log(self, op: str, k: int, **fields: object) -> None:
        """Record a data edit just made (as an EditSpec, validated once) for to_preset; the
        moves of one cluster at one step (a drag) as its last."""
        last = self.edit_log[-1] if self.edit_log else None
        if op == "move" and last is not None and (last.op, last.cluster, last.step) == (op, k, self.step_count):
            self.edit_log.pop()
        self.edit_log.append(EditSpec(step=self.step_count, op=op, cluster=k, **fields))
        self.edits_made += 1

    def _replay(self, edit: EditSpec) -> None:
        """A scheduled data edit, made as the window made it."""
        k = edit.cluster
        if edit.op in ("undo", "redo"):  # the preset's edit numbers, as they went in edit_log
            ref = self._replayed.get(edit.edit, -1)
            if ref < 0:
                raise PresetError(f"edit {edit.edit} is not an earlier add, remove, count or radius to {edit.op}")
            (self.undo_edit if edit.op == "undo" else self.redo_edit)(ref)
        elif edit.op == "move":
            self.move_cluster(k, edit.center)
        elif edit.op == "add":
            self.add_cluster(edit.center, edit.count, edit.radius, k)
        elif edit.op == "remove":
            self.remove_cluster(k)
        elif edit.op == "count":
            self.set_cluster_count(k, edit.count)
        else:
            self.set_cluster_radius(k, edit.radius)

    def undo_edit(self, index: int) -> None:
        """Put back the cluster that edit_log[index] (an add, remove, count or radius) changed,
        as it was before: the very samples and their Delta; logged as an undo."""
        self._put_back(index, "undo")

    def redo_edit(self, index: int) -> None:
        """Make edit_log[index] again with the very samples it gave the first time; logged."""
        self._put_back(index, "redo")

    def _put_back(self, index: int, op: str) -> None:
        if index not in self._kept:
            raise PresetError(f"data.edits: edit {index} is not an add, remove, count or radius to {op}")
        k, before, after = self._kept[index]
        target, other = (before, after) if op == "undo" else (after, before)
        self._restore(k, target, other is not None)
        self.edit_log.append(EditSpec(step=self.step_count, op=op, edit=index))
        self.edits_made += 1

    def _keeping(self, k: int, exists: tuple[bool, bool], edit: Callable[[], None]) -> None:
        """Make `edit` of cluster k (which `exists` before and after it as flagged) and keep the
        cluster before and after it under the edit's log index, for undo_edit and redo_edit."""
        before = self.cluster_state(k) if exists[0] else None
        edit()
        self._kept[len(self.edit_log) - 1] = (k, before, self.cluster_state(k) if exists[1] else None)

    def _edited(self, preset: Preset) -> None:
        """Take the edited preset (validated by the caller through with_changes): the limit
        kernel's sample count is checked before any sample changes."""
        kernels = {self.kernel, *(s.kernel for s in preset.training.switches)}
        if "limit" in kernels and preset.n > LIMIT_MAX_POINTS:
            raise PresetError(f"cluster: the 'limit' kernel handles at most {LIMIT_MAX_POINTS} samples, got {preset.n}")
        check_fits(preset, preset.n, self.X.shape[1], self.device, "cluster")
        if preset.training.start == "fitted" and not preset.training.fit_clusters:
            fitted_on = [c.model_dump() for c in self.preset.data.clusters]
            preset = with_changes(preset, {"training.fit_clusters": fitted_on}, "cluster")
        self.preset = preset

    def _check_index(self, k: int) -> None:
        if not self.preset.data.clusters:
            raise PresetError(f"cluster: data.kind {self.preset.data.kind!r} has no clusters to edit")
        if not 0 <= k < self.num_clusters:
            raise PresetError(f"cluster: expected an index from 0 to {self.num_clusters - 1}, got {k}")

    def _check_editable(self) -> None:
        if not self.samples.editable:
            raise PresetError(
                f"cluster: only clusters in balls (data.kind 'clusters') can be moved, added or resized here, "
                f"not {self.preset.data.kind!r} data"
            )

    def _checked_center(self, center: list[float] | np.ndarray) -> list[float]:
        c = np.asarray(center, dtype=np.float64)
        if c.shape != (self.X.shape[1],) or not np.all(np.isfinite(c)):
            raise PresetError(f"cluster center: expected {self.X.shape[1]} finite numbers, got {list(c)}")
        return [float(x) for x in torch.as_tensor(c, dtype=self.dtype).to(torch.float64)]

    def _edit_generator(self) -> torch.Generator:
        """Seeded by the seed, the step and n, so the same edit at the same point draws the same samples."""
        return torch.Generator().manual_seed(self.preset.seed * 1_000_003 + 7919 * self.step_count + self.n)

    def _take(self, samples: Samples, source: torch.Tensor | None = None, kept: torch.Tensor | None = None) -> None:
        """Continue on edited samples. When their number changed, each sample's Delta comes
        from the old sample `source` names (rows marked -1: from the last rows of `kept`, in
        order), and Delta's optimisers restart on the new shape (theta's keep their state). The
        limit kernel and the views are redone."""
        self.samples = samples
        if source is not None:
            delta = self.delta.detach()[source.clamp(min=0).to(self.device)].clone()
            back = (source < 0).to(self.device)
            if bool(back.any()):
                delta[back] = kept[len(kept) - int(back.sum()) :].to(delta)
            self.delta = delta
            self.delta.requires_grad_(True)
            self.delta_opt = self._optimiser([self.delta], self.preset.training.lr_points)
            self.limit_opt = self._optimiser([self.delta], self.preset.training.lr)
        self._limit_H = None
        self._views = self._draw_views()

    def copy(self) -> Simulation:
        """An independent simulation in exactly this state (same data, theta, Delta, views,
        random stream): two kernels from the same start, side by side."""
        other = Simulation.__new__(Simulation)
        other.__dict__.update(self.__dict__)
        other.model = copy.deepcopy(self.model)
        other.head = copy.deepcopy(self.head)
        other.delta = self.delta.detach().clone()
        other.switches = list(self.switches)
        other.cluster_ids = list(self.cluster_ids)
        other.edit_log, other.change_log, other._kept = list(self.edit_log), list(self.change_log), dict(self._kept)
        other._replayed = dict(self._replayed)
        other.started_at = self.step_count
        other._make_optimisers()
        other.theta_opt.load_state_dict(self.theta_opt.state_dict())
        other.delta_opt.load_state_dict(self.delta_opt.state_dict())
        other.limit_opt.load_state_dict(self.limit_opt.state_dict())
        other.views_generator = torch.Generator()
        other.views_generator.set_state(self.views_generator.get_state())
        other._views = self._views.clone()
        other._observed = other._clean = None
        return other
