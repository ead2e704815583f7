"""The clean samples of a run and the edits of their clusters: built once from a preset's data
section (clusters in balls, clusters on a curve, digits, a user file), then moved, resized,
grown, shrunk, added or removed cluster by cluster, always kept sorted by cluster.

A `Samples` value is never changed: an edit returns a new one, and for edits that change the
samples' number also `source`, the (n_new,) index of the old sample each new row takes its
per-sample state from (the run's offsets Delta follow it). New samples are drawn from a
generator the caller seeds, so the same edit at the same point of a run draws the same ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from sim import datasets
from sim.preset import ClusterSpec, DataSpec
from sim.synthetic import Cluster, Curve, centers_of, cluster_offsets, sample_on_curve, uniform_ball

EditGenerator = Callable[[], torch.Generator]


@dataclasses.dataclass(frozen=True)
class ClusterRows:
    """One cluster's samples, kept to be put back exactly (an undo): their offsets (count, d)
    float64 on the CPU for clusters in balls, else their X and tangents rows (on a curve)."""

    offsets: torch.Tensor | None
    X: torch.Tensor | None
    tangents: torch.Tensor | None

    @property
    def count(self) -> int:
        return len(self.offsets if self.offsets is not None else self.X)


def _clusters(specs: list[ClusterSpec]) -> list[Cluster]:
    return [Cluster(tuple(c.center), c.count, c.radius) for c in specs]


@dataclasses.dataclass(frozen=True)
class Samples:
    """X (n, d) on the run's device and dtype; labels (n,) on the device, sorted; offsets
    (n, d) float64 on the CPU from each sample to its cluster's center (clusters in balls
    only, else None); tangents (n, d) of the curve at each sample (manifold data only)."""

    X: torch.Tensor
    labels: torch.Tensor
    offsets: torch.Tensor | None
    tangents: torch.Tensor | None
    curve: Curve | None
    num_clusters: int

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def editable(self) -> bool:
        """Whether clusters can be moved, resized, grown or added (clusters in balls)."""
        return self.offsets is not None

    def with_centers(self, specs: list[ClusterSpec]) -> Samples:
        """The same samples about the clusters' centers in `specs` (a moved cluster)."""
        return dataclasses.replace(self, X=self._X(specs, self.labels.cpu(), self.offsets))

    def resized(self, k: int, old_radius: float, specs: list[ClusterSpec], draw: EditGenerator) -> Samples:
        """Cluster k scaled about its center from `old_radius` to its radius in `specs` (from a
        radius of 0, drawn afresh uniformly in the ball)."""
        radius = specs[k].radius
        mine = (self.labels == k).cpu()
        offsets = self.offsets.clone()
        if old_radius > 0:
            offsets[mine] *= radius / old_radius
        else:
            offsets[mine] = radius * uniform_ball(int(mine.sum()), self.X.shape[1], draw(), torch.float64)
        return dataclasses.replace(self, X=self._X(specs, self.labels.cpu(), offsets), offsets=offsets)

    def added(self, k: int, specs: list[ClusterSpec], draw: EditGenerator) -> tuple[Samples, torch.Tensor]:
        """A cluster inserted at index k (those from k on move up one) as `specs[k]` says; its
        samples take their per-sample state from random existing samples."""
        count, radius = specs[k].count, specs[k].radius
        donors = torch.randint(0, self.n, (count,), generator=draw(), device="cpu")
        labels = self.labels.cpu()
        shifted = torch.where(labels >= k, labels + 1, labels)
        ball = radius * uniform_ball(count, self.X.shape[1], draw(), torch.float64)
        return self._sorted(
            specs,
            torch.cat([shifted, torch.full((count,), k, dtype=torch.long)]),
            torch.cat([self.offsets, ball]),
            torch.cat([torch.arange(self.n), donors]),
        )

    def removed(self, k: int, specs: list[ClusterSpec]) -> tuple[Samples, torch.Tensor]:
        """Cluster k and its samples deleted; the clusters after it move down one index."""
        keep = (self.labels != k).cpu()
        labels = self.labels.cpu()[keep]
        labels = torch.where(labels > k, labels - 1, labels)
        source = torch.nonzero(keep).flatten()
        if self.curve is not None:
            on_device = keep.to(self.X.device)
            cut = dataclasses.replace(self, X=self.X[on_device], tangents=self.tangents[on_device])
            return cut._sorted(specs, labels, None, source)
        return self._sorted(specs, labels, self.offsets[keep], source)

    def recounted(self, k: int, specs: list[ClusterSpec], draw: EditGenerator) -> tuple[Samples, torch.Tensor]:
        """Cluster k grown to its count in `specs` with fresh samples (state from its own
        samples), or shrunk by dropping its last samples."""
        count, radius = specs[k].count, specs[k].radius
        labels = self.labels.cpu()
        mine = torch.nonzero(labels == k).flatten()
        if count < len(mine):
            keep = torch.ones(self.n, dtype=torch.bool)
            keep[mine[count:]] = False
            return self._sorted(specs, labels[keep], self.offsets[keep], torch.nonzero(keep).flatten())
        extra = count - len(mine)
        pick = torch.randint(0, len(mine), (extra,), generator=draw(), device="cpu")
        ball = radius * uniform_ball(extra, self.X.shape[1], draw(), torch.float64)
        return self._sorted(
            specs,
            torch.cat([labels, torch.full((extra,), k, dtype=torch.long)]),
            torch.cat([self.offsets, ball]),
            torch.cat([torch.arange(self.n), mine[pick]]),
        )

    def cluster_rows(self, k: int) -> ClusterRows:
        """Cluster k's samples as they are now (copies)."""
        mine = (self.labels == k).cpu()
        if self.offsets is not None:
            return ClusterRows(self.offsets[mine].clone(), None, None)
        on_device = mine.to(self.X.device)
        return ClusterRows(None, self.X[on_device].clone(), self.tangents[on_device].clone())

    def with_cluster(
        self, k: int, rows: ClusterRows, specs: list[ClusterSpec], insert: bool
    ) -> tuple[Samples, torch.Tensor]:
        """Cluster k's samples replaced by `rows` (or `rows` inserted as cluster k, the clusters
        from k on moving up one), `specs` describing the result. `source` names, for the first
        rows of a replaced cluster, the sample each was (the same samples, in order: an edit
        keeps a cluster's rows in order and adds or drops its last ones); every other row of
        `rows` gets -1 (its per-sample state is the caller's to give)."""
        labels = self.labels.cpu()
        mine = torch.nonzero(labels == k).flatten() if not insert else torch.zeros(0, dtype=torch.long)
        keep = labels != k if not insert else torch.ones(self.n, dtype=torch.bool)
        kept = labels[keep]
        if insert:
            kept = torch.where(kept >= k, kept + 1, kept)
        new_labels = torch.cat([kept, torch.full((rows.count,), k, dtype=torch.long)])
        own = torch.full((rows.count,), -1, dtype=torch.long)
        own[: min(len(mine), rows.count)] = mine[: rows.count]
        source = torch.cat([torch.nonzero(keep).flatten(), own])
        if self.offsets is not None:
            return self._sorted(specs, new_labels, torch.cat([self.offsets[keep], rows.offsets]), source)
        on_device = keep.to(self.X.device)
        joined = dataclasses.replace(
            self,
            X=torch.cat([self.X[on_device], rows.X.to(self.X.device, self.X.dtype)]),
            tangents=torch.cat([self.tangents[on_device], rows.tangents.to(self.X.device, self.X.dtype)]),
        )
        return joined._sorted(specs, new_labels, None, source)

    def _X(self, specs: list[ClusterSpec], labels: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """X = each sample's cluster center + its offset, in float64, then on the device: the
        same numbers a fresh build with these centers gives."""
        X = centers_of(_clusters(specs), labels, torch.float64) + offsets
        return X.to(self.X.device, self.X.dtype)

    def _sorted(
        self, specs: list[ClusterSpec], labels: torch.Tensor, offsets: torch.Tensor | None, source: torch.Tensor
    ) -> tuple[Samples, torch.Tensor]:
        """New samples (CPU labels, float64 offsets; None on a curve, where X and tangents are
        already cut) sorted by cluster, and the old index each row's state comes from."""
        order = torch.argsort(labels, stable=True)
        labels = labels[order].contiguous()
        device = self.X.device
        if offsets is not None:
            offsets = offsets[order].contiguous()
            X, tangents = self._X(specs, labels, offsets), self.tangents
        else:
            X, tangents = self.X[order.to(device)].contiguous(), self.tangents[order.to(device)].contiguous()
        samples = Samples(X, labels.to(device), offsets, tangents, self.curve, int(labels.max()) + 1)
        return samples, source[order]


def build_samples(spec: DataSpec, seed: int, device: torch.device, dtype: torch.dtype) -> Samples:
    """The samples a preset's data section describes (SPEC section 1), seeded by `seed`."""
    if spec.kind in ("digits", "file"):
        if spec.kind == "digits":
            X, labels = datasets.digits(spec.classes, spec.per_class, seed)
        else:
            X, labels = datasets.user_data(spec.path, spec.labels_last_column)
        return Samples(X.to(device, dtype), labels.to(device), None, None, None, int(labels.max()) + 1)
    gen = torch.Generator().manual_seed(seed)
    clusters = _clusters(spec.clusters)
    if spec.kind == "manifold":
        curve = Curve(spec.curve, spec.dim, spec.curve_radius, spec.pitch)
        X, labels, t = sample_on_curve(curve, clusters, gen, torch.float64)
        tangents = curve.tangent(t).to(device, dtype)
        return Samples(X.to(device, dtype), labels.to(device), None, tangents, curve, len(clusters))
    offsets, labels = cluster_offsets(clusters, gen, torch.float64)
    X = centers_of(clusters, labels, torch.float64) + offsets
    return Samples(X.to(device, dtype), labels.to(device), offsets, None, None, len(clusters))
