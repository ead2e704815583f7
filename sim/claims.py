"""The paper's claims as measurements (`main.py reproduce`, the window's claims panel): each
check runs the app's own simulation on a seed and returns a Claim with the number measured,
whether it holds or deviates by a criterion fixed here in advance, and why. Nothing here is
tuned to pass: a deviation is reported with its number.

`run_claims(seed, quick, out, progress)` runs every check, writes figures (PNG, Pillow) into
`out` when given, and returns the claims in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sim import metrics, theory
from sim.cluster_dynamics import cluster_flow
from sim.files import atomic_path
from sim.networks import AveragingNet
from sim.ntk import limit_kernel_averaging, ntk
from sim.palette import cluster_rgb255
from sim.preset import Preset, load_preset, with_changes
from sim.simulation import Simulation


@dataclass(frozen=True)
class Claim:
    """One row of the table: the paper's claim, what was measured, the number, the verdict
    ('holds' or 'deviates'), why, and the figure files beside the table (names in `out`)."""

    key: str
    claim: str
    measured: str
    number: float
    verdict: str
    why: str
    figures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _verdict(ok: bool) -> str:
    return "holds" if ok else "deviates"


def _slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _cpu(preset: Preset, seed: int, changes: dict | None = None) -> Preset:
    return with_changes(preset, {"device": "cpu", "seed": seed, **(changes or {})})


# ----- theory --------------------------------------------------------------------------------------


def theorem_3_2(seed: int, quick: bool, out: Path | None) -> Claim:
    """Symmetric measures (K evenly spaced points on S^1) are stationary: tangential gradient 0."""
    largest = max(
        float(theory.tangential_gradient(theory.circle_points(k), tau).abs().max())
        for k in range(2, 13)
        for tau in (0.1, 0.5, 1.0)
    )
    return Claim(
        "thm3.2",
        "Theorem 3.2: K evenly spaced points on the circle are a stationary point of the loss",
        "largest tangential gradient over K = 2..12, tau in {0.1, 0.5, 1}",
        largest,
        _verdict(largest < 1e-9),
        "zero to round-off (float64), criterion < 1e-9",
    )


def figure_3(seed: int, quick: bool, out: Path | None) -> Claim:
    """The plateau threshold of the minimum squared distance is linear in tau."""
    taus = np.round(np.linspace(0.05, 0.5, 5 if quick else 10), 3)
    found = [theory.threshold(float(t)) for t in taus]
    slope, intercept, r2 = theory.linear_fit(np.array([t.tau for t in found]), np.array([t.d2 for t in found]))
    return Claim(
        "fig3",
        "Figure 3: the threshold of the minimum squared distance grows linearly with tau",
        f"R^2 of a linear fit over {len(taus)} values of tau (slope {slope:.3g}, intercept {intercept:.3g})",
        r2,
        _verdict(r2 > 0.98),
        "criterion R^2 > 0.98",
    )


def proposition_4_3(seed: int, quick: bool, out: Path | None) -> Claim:
    """The closed-form kernel of the averaging net equals the Jacobian contraction J J^T."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = AveragingNet(3, 2, 16, "erf").double()
    rows = []
    for x in X:
        for k in range(2):
            rows.append(torch.autograd.grad(net(x[None])[0, k], net.weight)[0].flatten())
    J = torch.stack(rows).reshape(len(X), 2, -1)
    closed, reference = ntk(net, X), torch.einsum("iap,jbp->ijab", J, J)
    err = float((closed - reference).abs().max() / reference.abs().max())
    return Claim(
        "prop4.3",
        "Proposition 4.3: H_ij^kl = delta_kl (x_i.x_j / N^2) sum_r sigma'(w_kr.x_i) sigma'(w_kr.x_j)",
        "largest relative difference from J J^T, J by autograd row by row (12 samples, N = 16, erf)",
        err,
        _verdict(err < 1e-12),
        "criterion < 1e-12 (float64)",
    )


def proposition_4_4(seed: int, quick: bool, out: Path | None) -> Claim:
    """N H of a finite averaging net approaches the infinite-width kernel as N grows (ReLU)."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(16, 2, generator=gen, dtype=torch.float64)
    limit = limit_kernel_averaging(X, "relu")
    widths = [64, 512, 4096] if quick else [64, 512, 4096, 32768]
    errors = []
    for width in widths:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = AveragingNet(2, 2, width, "relu").double()
        finite = width * ntk(net, X)[:, :, 0, 0]
        errors.append(float((finite - limit).norm() / limit.norm()))
    slope = _slope(widths, errors)
    return Claim(
        "prop4.4",
        "Proposition 4.4 / Corollary 4.6: N H(theta) -> the infinite-width kernel as N -> infinity",
        f"relative error at N = {widths}: {', '.join(f'{e:.3g}' for e in errors)}; log-log slope",
        slope,
        _verdict(-0.8 < slope < -0.3 and errors[-1] < errors[0]),
        "Monte Carlo rate N^-1/2 expected; criterion slope in (-0.8, -0.3)",
    )


# ----- dynamics ------------------------------------------------------------------------------------


def theorem_4_2(seed: int, quick: bool, out: Path | None) -> Claim:
    """From an invariant start the identity kernel stays invariant; the NN kernel need not."""
    preset = _cpu(
        load_preset("fig5-2d"), seed, {"training.start": "clump", "dtype": "float64", "training.max_move": 0.0}
    )
    errors = {}
    for kernel in ("identity", "nn"):
        sim = Simulation(with_changes(preset, {"training.kernel": kernel}))
        sim.step(20)
        errors[kernel] = sim.frame(block_ratio=False).metrics["invariance"]
    ok = errors["identity"] < 1e-20 and errors["nn"] > 1e3 * max(errors["identity"], 1e-30)
    return Claim(
        "thm4.2",
        "Theorem 4.2: the identity kernel keeps an invariant map invariant; the NN kernel can lose invariance",
        f"invariance error after 20 steps from an invariant clump start: identity {errors['identity']:.3g}, "
        f"NN {errors['nn']:.3g}",
        errors["nn"],
        _verdict(ok),
        "criterion identity < 1e-20 and NN > 1000 x identity",
    )


def theorem_4_5(seed: int, quick: bool, out: Path | None) -> list[Claim]:
    """Within a cluster the NN velocities agree up to O(eps): the spread grows linearly in eps.
    Measured on the paper's own network (the eq 18 averaging net, `one-hidden-layer`) and on
    fig5-2d's 4-layer MLP at its data-blind (fitted) start."""
    eps_values = [0.05, 0.1, 0.2] if quick else [0.025, 0.05, 0.1, 0.2, 0.4]
    claims = []
    for name, what in (
        ("one-hidden-layer", "the eq 18 averaging net"),
        ("fig5-2d", "fig5-2d's MLP at its data-blind start"),
    ):
        spreads = []
        for eps in eps_values:
            base = load_preset(name)
            changes = {f"data.clusters[{k}].radius": eps for k in range(len(base.data.clusters))}
            spreads.append(float(cluster_flow(Simulation(_cpu(base, seed, changes))).spread.mean()))
        slope = _slope(eps_values, spreads)
        ok = 0.8 < slope < 1.2 and spreads[0] < 0.1
        claims.append(
            Claim(
                f"thm4.5-{name}",
                f"Theorem 4.5 ({what}): every point of a cluster has the same velocity, up to O(eps)",
                f"mean relative spread of NN velocities within a cluster at eps = {eps_values}: "
                f"{', '.join(f'{s:.3g}' for s in spreads)}; log-log slope",
                slope,
                _verdict(ok),
                "O(eps) means slope 1; criterion slope in (0.8, 1.2) and spread < 0.1 at the smallest eps"
                + (
                    ""
                    if ok
                    else "; the kernel varies within a cluster on a scale below eps (a start fitted to scatter each cluster)"
                ),
            )
        )
    return claims


def remark_4_4(seed: int, quick: bool, out: Path | None) -> list[Claim]:
    """The small cluster's own term scales with n_k / n; its whole velocity need not."""
    counts = [4, 16, 60] if quick else [4, 8, 16, 30, 60, 120]
    shares, own, total = [], [], []
    for count in counts:
        sim = Simulation(_cpu(load_preset("imbalanced"), seed, {"data.clusters[3].count": count}))
        flow = cluster_flow(sim)
        shares.append(float(flow.share[3]))
        own.append(float(np.linalg.norm(flow.own[3])))
        total.append(float(np.linalg.norm(flow.measured[3])))
    own_slope, total_slope = _slope(shares, own), _slope(shares, total)
    return [
        Claim(
            "rem4.4-own",
            "Remark 4.4: a cluster's gradient term is scaled by its share n_k / n",
            f"|own term -lr Hbar_kk G_k| of the small cluster at shares {', '.join(f'{s:.3f}' for s in shares)}; "
            "log-log slope",
            own_slope,
            _verdict(0.7 < own_slope < 1.2),
            "proportional to the share means slope 1; criterion slope in (0.7, 1.2)",
        ),
        Claim(
            "rem4.4-velocity",
            "Remark 4.4 read as: the small cluster's velocity is scaled down by n_k / n",
            "|measured NN velocity| of the small cluster against its share; log-log slope",
            total_slope,
            _verdict(0.7 < total_slope < 1.2),
            "the other clusters' terms through H (not scaled by the small share) dominate its velocity"
            if total_slope <= 0.7
            else "criterion slope in (0.7, 1.2)",
        ),
    ]


def _run(preset: Preset, steps: int, every: int) -> list:
    sim = Simulation(preset)
    frames = [sim.frame(block_ratio=False)]
    while sim.step_count < steps:
        sim.step(min(every, steps - sim.step_count))
        frames.append(sim.frame(block_ratio=False))
    return frames


def groups_formed(frame, k: int) -> tuple[bool, float, float]:
    """Whether a frame shows K compact groups evenly spaced on the circle (R_k >= 0.95, each
    neighbour gap within 15 degrees of 360 / K), the smallest R_k and the largest gap error."""
    R = frame.cluster_metrics["R"]
    angles = np.sort(np.degrees(np.arctan2(frame.centers[:, 1], frame.centers[:, 0])))
    gaps = np.diff(np.concatenate([angles, angles[:1] + 360]))
    gap_error = float(np.abs(gaps - 360 / k).max())
    return bool(R.min() >= 0.95 and gap_error <= 15), float(R.min()), gap_error


def figure_5_2d(seed: int, quick: bool, out: Path | None) -> list[Claim]:
    """fig5-2d: a start without cluster structure (its network fitted to eq 17's data-blind
    map), K compact groups under the NN kernel; the identity kernel from the same start never
    finds the clusters."""
    preset = _cpu(load_preset("fig5-2d"), seed)
    steps = 1000 if quick else preset.steps
    nn = _run(preset, steps, 50)
    identity = _run(with_changes(preset, {"training.kernel": "identity"}), 300 if quick else 1000, 50)
    k = len(preset.data.clusters)
    ok, r_min, gap_error = groups_formed(nn[-1], k)
    found = next((f for f in nn if groups_formed(f, k)[0]), None)
    figures = []
    if out is not None:
        figures = [
            _scatter(nn[0], out / "fig5_nn_start.png", "fig5-2d: the data-blind start"),
            _scatter(nn[-1], out / "fig5_nn_end.png", "fig5-2d: NN kernel from the data-blind start"),
            _scatter(identity[-1], out / "fig5_identity_end.png", "fig5-2d: identity kernel from the data-blind start"),
        ]
    start_sil = nn[0].metrics["silhouette"]
    uniformity, identity_sil = identity[-1].metrics["uniformity"], identity[-1].metrics["silhouette"]
    return [
        Claim(
            "fig5-start",
            "Figure 5: the run starts without any initial clustering structure",
            f"silhouette of Z under the labels at step 0 (fig5-2d, its shipped start); uniformity "
            f"{nn[0].metrics['uniformity']:.3f} (uniform law -1.575)",
            start_sil,
            _verdict(start_sil < 0.2),
            "criterion < 0.2",
            figures[:1],
        ),
        Claim(
            "fig5-nn",
            "Figure 5: with the NN kernel the clusters settle as K compact groups, evenly spaced",
            f"after {steps} steps (flow time t = {nn[-1].flow_time:.3g}; the step rule cuts early steps): smallest R_k {r_min:.3f}, largest neighbour-gap "
            f"error {gap_error:.1f} degrees; first frame with the groups: "
            + (f"step {found.step} (t = {found.flow_time:.3g})" if found is not None else "none"),
            r_min,
            _verdict(ok),
            "criterion R_k >= 0.95 and every gap within 15 degrees of 360/K",
            figures[1:2],
        ),
        Claim(
            "fig5-identity",
            "Figure 5: with the identity kernel the points spread to the uniform law, disregarding the clusters",
            f"after {identity[-1].step} steps: uniformity {uniformity:.3f} (uniform law -1.575; {len(nn[0].Z)} "
            f"evenly spaced points {_even_uniformity(len(nn[0].Z)):.3f}, the pairs i = j left out), "
            f"silhouette {identity_sil:.2f}",
            uniformity,
            _verdict(abs(uniformity + 1.575) < 0.05 and identity_sil < 0.2),
            "criterion uniformity within 0.05 of -1.575 and silhouette < 0.2 (on the circle the identity flow "
            "keeps the points' order, so it keeps whatever cluster structure the start had)",
            figures[2:],
        ),
    ]


def figure_5_3d(seed: int, quick: bool, out: Path | None) -> Claim:
    """appendix-b-3d: compact caps spread over the sphere under the NN kernel, from its
    data-blind (fitted) start."""
    preset = _cpu(load_preset("appendix-b-3d"), seed)
    steps = 1000 if quick else preset.steps
    last = _run(preset, steps, steps)[-1]
    r_min = float(last.cluster_metrics["R"].min())
    nearest = float(last.cluster_metrics["neighbour_angle"].min())
    figures = [_scatter(last, out / "fig5_3d_end.png", "appendix-b-3d (sphere, seen from above)")] if out else []
    return Claim(
        "fig5-3d",
        "Appendix B (3-D): with the NN kernel the clusters settle as compact caps spread over the sphere",
        f"after {steps} steps: smallest R_k {r_min:.3f}, smallest angle between cluster means {nearest:.0f} degrees",
        r_min,
        _verdict(r_min >= 0.95 and nearest >= 60),
        "criterion R_k >= 0.95 and every pair of means at least 60 degrees apart",
        figures,
    )


def recovery(seed: int, quick: bool, out: Path | None) -> list[Claim]:
    """From an eq 17 start (an invariant map unrelated to the data), does the NN kernel find
    the clusters? Twice: with the data-blind map held by theta (the "fitted" start, which
    training moves) and held by the frozen per-sample offsets Delta (an invariant clump).
    Curves of within-cluster spread and between-cluster separation against flow time."""
    claims = []
    clump = "an invariant clump (|u| = 0.1) held by the frozen offsets Delta (start 'clump')"
    for key, changes, what in (
        ("recovery-theta", {}, "the network fitted to evenly spaced targets (start 'fitted')"),
        ("recovery-delta", {"training.start": "clump", "training.start_scale": 0.1}, clump),
    ):
        preset = _cpu(load_preset("fig5-2d"), seed, changes)
        frames = _run(preset, 1000 if quick else 2000, 20 if quick else 50)
        sil = frames[-1].metrics["silhouette"]
        title = f"{key}: from {what.split(' (')[0]}"
        figures = [_curves(frames, out / f"{key.replace('-', '_')}_curves.png", title)] if out is not None else []
        why = "criterion silhouette > 0.5"
        if sil <= 0.5 and key == "recovery-delta":
            why += (
                "; the data-blind part lives in the frozen offsets, which every point of a cluster carries along "
                "(same velocity up to O(eps)), and the loss's uniformity term favours keeping it"
            )
        claims.append(
            Claim(
                key,
                "Section 4.2: the neural kernel can recover the clusters from a data-blind (eq 17) start",
                f"from {what}: silhouette {frames[0].metrics['silhouette']:.3f} at step 0, {sil:.3f} after "
                f"{frames[-1].step} NN steps (t = {frames[-1].flow_time:.3g}); smallest R_k "
                f"{frames[-1].cluster_metrics['R'].min():.2f}",
                sil,
                _verdict(sil > 0.5),
                why,
                figures,
            )
        )
    return claims


CHECKS: tuple[Callable, ...] = (
    theorem_3_2,
    figure_3,
    proposition_4_3,
    proposition_4_4,
    theorem_4_2,
    theorem_4_5,
    remark_4_4,
    figure_5_2d,
    figure_5_3d,
    recovery,
)


def run_claims(
    seed: int, quick: bool, out: Path | None = None, progress: Callable[[int, int, str], None] | None = None
) -> list[Claim]:
    """Every check in CHECKS on `seed` (quick: fewer steps and sizes), figures into `out`;
    progress(done, total, name) after each. An exception from progress stops the run."""
    claims: list[Claim] = []
    for i, check in enumerate(CHECKS):
        result = check(seed, quick, out)
        claims += result if isinstance(result, list) else [result]
        if progress:
            progress(i + 1, len(CHECKS), check.__name__)
    return claims


def markdown(claims: list[Claim], seed: int, quick: bool) -> str:
    """The claims as a Markdown table, figures linked below it."""
    lines = [
        f"# The paper's claims, measured (seed {seed}{', quick' if quick else ''})",
        "",
        "| claim | measured | number | verdict | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in claims:
        cells = (c.claim, c.measured, f"{c.number:.4g}", f"**{c.verdict}**", c.why)
        lines.append("| " + " | ".join(_cell(text) for text in cells) + " |")
    figures = [(c.key, f) for c in claims for f in c.figures]
    if figures:
        lines += ["", "## Figures", ""] + [f"![{key}]({name})" for key, name in figures]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for one cell of a Markdown table: a '|' in it (a norm, |u|) escaped, so that it
    does not end the cell; line breaks as spaces."""
    return text.replace("|", "\\|").replace("\n", " ")


def _even_uniformity(n: int) -> float:
    """The uniformity (metrics.uniformity) of n evenly spaced points on the circle: below the
    uniform law's -1.575 at finite n, since the mean leaves out the pairs i = j."""
    angle = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    return metrics.uniformity(torch.stack([torch.cos(angle), torch.sin(angle)], dim=1))


# ----- figures -------------------------------------------------------------------------------------

INK, GRID = (30, 30, 30), (190, 190, 190)
FONT_SIZE = 12  # px, Pillow's scalable default font (its bitmap one ran words together)


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def _save(image: Image.Image, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path.name


def _scatter(frame, path: Path, title: str, size: int = 400) -> str:
    """The embeddings on the circle (3-D: seen from above the north pole, the first two
    coordinates), coloured by cluster as in the window, under `title` and the frame's kernel,
    step and flow time, with the clusters' key."""
    image = Image.new("RGB", (size, size + 24), "white")
    draw, font = ImageDraw.Draw(image), _font()
    c, cy, r = size / 2, 24 + size / 2, size * 0.4
    draw.ellipse([c - r, cy - r, c + r, cy + r], outline=GRID)
    for z, label in zip(frame.Z, frame.labels):
        x, y = c + r * z[0], cy - r * z[1]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=cluster_rgb255(int(label)))
    draw.text((6, 4), title, fill=INK, font=font)
    kernel = {"nn": "NN", "identity": "identity", "limit": "infinite-width"}[frame.kernel]
    draw.text((6, 18), f"{kernel} kernel, step {frame.step}, flow time {frame.flow_time:.3g}", fill=INK, font=font)
    x = 6
    for k in range(int(frame.labels.max()) + 1):  # the key: each cluster's number in its colour
        draw.ellipse([x, size + 10, x + 8, size + 18], fill=cluster_rgb255(k))
        draw.text((x + 11, size + 8), str(k + 1), fill=INK, font=font)
        x += 30
    return _save(image, path)


def _curves(frames: list, path: Path, title: str, width: int = 480, height: int = 300) -> str:
    """Within-cluster spread (1 - mean R_k) and between-cluster separation (mean neighbour
    angle / 180) against the step (against flow time the recovery was squeezed into the first
    twentieth: the step rule makes early steps tiny), under `title`, with ticks at 0, 0.5 and 1
    and at the first, middle and last frame, each with its flow time."""
    steps = np.array([f.step for f in frames], dtype=float)
    spread = np.array([1 - f.cluster_metrics["R"].mean() for f in frames])
    separation = np.array([f.cluster_metrics["neighbour_angle"].mean() / 180 for f in frames])
    image = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(image), _font()
    left, right, bottom, top = 40, width - 14, height - 46, 28
    first, span = float(steps[0]), max(float(steps[-1] - steps[0]), 1e-12)

    def xy(step: float, v: float) -> tuple[float, float]:
        return left + (right - left) * (step - first) / span, bottom - (bottom - top) * min(max(v, 0.0), 1.0)

    draw.text((6, 4), title, fill=INK, font=font)
    draw.rectangle([left, top, right, bottom], outline=GRID)
    for v in (0.0, 0.5, 1.0):
        _, y = xy(first, v)
        draw.line([(left, y), (right, y)], fill=(235, 235, 235))
        draw.text((left - 22, y - 6), f"{v:g}", fill=INK, font=font)
    for i in (0, len(frames) // 2, len(frames) - 1):
        x, _ = xy(steps[i], 0.0)
        draw.line([(x, bottom), (x, bottom + 4)], fill=GRID)
        for row, text in enumerate((f"{int(steps[i])}", f"t {frames[i].flow_time:.3g}")):
            draw.text(
                (min(max(x - 3 * len(text), 2), right - 6 * len(text)), bottom + 6 + 12 * row),
                text,
                fill=INK,
                font=font,
            )
    lines = (
        (spread, (200, 60, 60), "within-cluster spread 1 - mean R_k"),
        (separation, (40, 90, 200), "mean gap to the nearest cluster / 180 degrees"),
    )
    for i, (values, colour, name) in enumerate(lines):
        draw.line([xy(a, b) for a, b in zip(steps, values)], fill=colour, width=2)
        draw.text((left + 6, top + 5 + 13 * i), name, fill=colour, font=font)
    draw.text((left + (right - left) / 2 - 60, bottom + 32), "step (t: flow time)", fill=INK, font=font)
    return _save(image, path)


def finite(x: float) -> float | None:
    """x for JSON, None when not finite."""
    return x if math.isfinite(x) else None
