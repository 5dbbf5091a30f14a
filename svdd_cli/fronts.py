"""Several objectives at once (reward=pareto, docs/pareto.md, docs/algorithms.md item 19): their directions and
ranges, the per-output Chebyshev scalarisation that spreads a batch along the front, Pareto ranks, and the exact
hypervolume.

Every objective k has a direction (max or min) and a range [lo_k, hi_k] of its raw values that matters. Values
are first *oriented* (a minimised objective negated: higher is better everywhere), then *normalised* to
g_k in [0, 1] over the range: 0 at its worst end, 1 at its best end. The hypervolume is measured in that unit box
against the reference point g = 0 (each range's worst end), so it is 1 when a design reaches the best end of every
range and a run's figure does not depend on the scale of any term.

Output j of a sampler's batch is steered by its own weights w(j) on the simplex, a quasi-random point (the
Kronecker sequence of Roberts' generalised golden ratio, mapped to the simplex by sorted spacings), and the
augmented Chebyshev value s = -max_k w_k (1 - g_k) - rho sum_k w_k (1 - g_k), rho = AUGMENT. s is strictly
increasing in every objective (every w_k > 0), so the best of any set of candidates under one output's weights is
never dominated by another of them (Pareto rank 0 among them); different outputs aim at different parts of the
front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from svdd_cli.errors import UserError

AUGMENT = 0.01  # rho: the sum term that makes the Chebyshev value strictly increasing in every objective
DIRECTIONS = ("max", "min")
COLUMN = "objective_"  # samples.csv: objective_<name> holds each term's own value


@dataclass(frozen=True)
class Objectives:
    """The objectives of a front: names, directions (True: maximised) and raw ranges (lo, hi)."""

    names: tuple[str, ...]
    maximise: tuple[bool, ...]
    ranges: tuple[tuple[float, float], ...]

    @classmethod
    def from_config(cls, terms: Mapping[str, str], ranges: Mapping[str, Sequence[float]]) -> Objectives:
        """reward.terms (name -> max | min) and reward.ranges (name -> [lo, hi]); a UserError naming a bad value."""
        if len(terms) < 2:
            raise UserError(f"reward.terms has {len(terms)} objective(s) ({', '.join(terms) or 'none'}); a front "
                            "needs two or more, e.g. reward.terms={qed: max, sa: max} (one reward: reward=<name>)")
        for name, direction in terms.items():
            if direction not in DIRECTIONS:
                raise UserError(f"reward.terms.{name}={direction} is not a direction; use max or min "
                                f"(e.g. reward.terms.{name}=max)")
        checked = []
        for name in terms:
            span = ranges.get(name)
            if span is None:
                raise UserError(f"reward.ranges.{name} is missing: give the range of {name}'s values that matters, "
                                f"e.g. reward.ranges.{name}=[0,1] (it scales the objective for the front)")
            if len(span) != 2 or not float(span[0]) < float(span[1]):
                raise UserError(f"reward.ranges.{name}={list(span)} must be [lo, hi] with lo < hi")
            checked.append((float(span[0]), float(span[1])))
        return cls(tuple(terms), tuple(terms[n] == "max" for n in terms), tuple(checked))

    @classmethod
    def from_record(cls, record: Mapping[str, Mapping[str, Any]]) -> Objectives:
        """From summary.json's pareto.objectives (record())."""
        return cls(tuple(record), tuple(e["direction"] == "max" for e in record.values()),
                   tuple((float(e["range"][0]), float(e["range"][1])) for e in record.values()))

    def record(self) -> dict[str, dict[str, Any]]:
        """name -> {direction, range}: what summary.json keeps (and a report or merge reads back)."""
        return {n: {"direction": "max" if up else "min", "range": list(r)}
                for n, up, r in zip(self.names, self.maximise, self.ranges)}

    @property
    def labels(self) -> tuple[str, ...]:
        """The oriented values' names (oracle_calls.csv columns): the name, '-name' for a minimised objective."""
        return tuple(n if up else f"-{n}" for n, up in zip(self.names, self.maximise))

    @property
    def columns(self) -> list[str]:
        """samples.csv's objective columns."""
        return [COLUMN + n for n in self.names]

    def signs(self) -> Tensor:
        """(K,): +1 for a maximised objective, -1 for a minimised one."""
        return torch.tensor([1.0 if up else -1.0 for up in self.maximise])

    def orient(self, values: Tensor) -> Tensor:
        """Raw values (B, K) -> oriented (higher is better); the same map takes oriented values back to raw."""
        return values * self.signs()

    def normalise(self, oriented: Tensor) -> Tensor:
        """Oriented values (B, K) -> g (B, K): 0 at each range's worst end, 1 at its best end."""
        lo, hi = torch.tensor(self.ranges, dtype=oriented.dtype).T
        worst = torch.where(self.signs() > 0, lo, -hi)
        return (oriented - worst) / (hi - lo)

    def reference_point(self) -> dict[str, float]:
        """The hypervolume's reference point in raw units: each range's worst end."""
        return {n: (r[0] if up else r[1]) for n, up, r in zip(self.names, self.maximise, self.ranges)}

    def raw_columns(self, oriented: Tensor) -> dict[str, list[float]]:
        """samples.csv's objective columns (each term's own value) of oriented values (B, K)."""
        return {c: v for c, v in zip(self.columns, self.orient(oriented).T.tolist())}

    def raw_rows(self, rows: Sequence[Mapping[str, Any]]) -> Tensor:
        """The objective columns (B, K) of samples.csv rows, as the terms give them (NaN where a row has none)."""
        raw = [[_number(r.get(c)) for c in self.columns] for r in rows]
        return torch.tensor(raw, dtype=torch.float64).view(len(rows), len(self.names))

    def from_rows(self, rows: Sequence[Mapping[str, Any]]) -> Tensor:
        """g (B, K) of samples.csv rows' objective columns (NaN where a row has none)."""
        return self.normalise(self.orient(self.raw_rows(rows)))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):  # None, '' (a CSV's empty cell)
        return math.nan


def roberts(k: int) -> Tensor:
    """The Kronecker step of Roberts' sequence in k dimensions: 1 / phi_k^(1..k), phi_k the root > 1 of
    x^(k+1) = x + 1 (the golden ratio for k = 1)."""
    phi = 2.0
    for _ in range(60):
        phi = (1 + phi) ** (1 / (k + 1))
    return torch.tensor([phi ** -(i + 1) for i in range(k)], dtype=torch.float64)


def simplex_weights(outputs: Tensor, k: int) -> Tensor:
    """Weights (B, K) on the simplex of outputs (B,) (indices in a sampler's batch): the outputs-th point of the
    quasi-random sequence, so any batch's first outputs cover the simplex evenly (output 0: equal weights); every
    weight is > 0."""
    start = torch.arange(1, k, dtype=torch.float64) / k  # output 0: the spacings 1/K, equal weights
    u = torch.frac(start + outputs.double().view(-1, 1) * roberts(k - 1))  # (B, K-1) in [0, 1)
    edges = torch.cat([torch.zeros(len(u), 1, dtype=u.dtype), u.sort(1).values, torch.ones(len(u), 1, dtype=u.dtype)],
                      dim=1)
    w = edges.diff(dim=1).clamp_min(1e-6)
    return (w / w.sum(1, keepdim=True)).float()


def chebyshev(g: Tensor, weights: Tensor) -> Tensor:
    """The augmented Chebyshev value (B,) of normalised objectives g (B, K) under weights (B, K): the weighted
    worst shortfall from the ideal point g = 1, plus AUGMENT times the weighted total shortfall, negated."""
    shortfall = weights * (1 - g)
    return -(shortfall.max(1).values + AUGMENT * shortfall.sum(1))


def pareto_ranks(g: Tensor) -> list[int | None]:
    """Non-dominated sorting of points g (n, K), higher is better: 0 for the points no other point dominates, 1
    for those only rank-0 points dominate, ...; None for a point with a NaN. O(n^2 K) time, an (n, n) boolean
    matrix in memory (100 MB at n = 10,000)."""
    finite = torch.isfinite(g).all(1)
    index = finite.nonzero().flatten()
    p = g[index]
    dominates = torch.cat([(rows[:, None] >= p[None]).all(2) & (rows[:, None] > p[None]).any(2)
                           for rows in p.split(1024)]) if len(p) else torch.zeros(0, 0, dtype=torch.bool)
    ranks: list[int | None] = [None] * len(g)
    dominators = dominates.sum(0)  # of each point, among the points not ranked yet (Deb et al. 2002's count)
    front, rank = (dominators == 0).nonzero().flatten(), 0
    while len(front):
        for i in front.tolist():
            ranks[int(index[i])] = rank
        dominators = dominators - dominates[front].sum(0)
        dominators[front] = -1  # ranked
        front, rank = (dominators == 0).nonzero().flatten(), rank + 1
    return ranks


def hypervolume(g: Tensor) -> float:
    """The volume of the region that the points g (n, K) dominate above the reference point 0 (exact): a sweep
    for K = 2, slices along the last objective down to that sweep for K > 2 over the front's f points
    (O(f^(K-1) log f)). Points with a NaN or not above the reference in every objective add nothing."""
    if g.shape[-1] > 2:  # only the front adds volume: slice fewer points
        g = g[[r == 0 for r in pareto_ranks(g)]]
    points = [tuple(p) for p in g.tolist() if all(math.isfinite(x) and x > 0 for x in p)]
    return _volume(points, g.shape[-1])


def _volume(points: list[tuple[float, ...]], k: int) -> float:
    if not points:
        return 0.0
    if k == 1:
        return max(p[0] for p in points)
    if k == 2:  # sweep down the second objective, holding the widest first objective seen so far
        total, widest, ordered = 0.0, 0.0, sorted(points, key=lambda p: -p[1])
        for p, below in zip(ordered, [q[1] for q in ordered[1:]] + [0.0]):
            widest = max(widest, p[0])
            total += widest * (p[1] - below)
        return total
    levels = sorted({p[-1] for p in points}, reverse=True)
    return sum((h - below) * _volume([p[:-1] for p in points if p[-1] >= h], k - 1)
               for h, below in zip(levels, levels[1:] + [0.0]))


def with_ranks(rows: Sequence[Mapping[str, Any]], ranks: Sequence[int | None],
               objectives: Objectives) -> list[dict[str, Any]]:
    """samples.csv rows with `pareto_rank` after their last objective column."""
    last = objectives.columns[-1]
    out = []
    for row, rank in zip(rows, ranks):
        ranked: dict[str, Any] = {}
        for key, value in row.items():
            if key != "pareto_rank":
                ranked[key] = value
            if key == last:
                ranked["pareto_rank"] = rank
        out.append(ranked)
    return out


def front_summary(objectives: Objectives, rows: Sequence[Mapping[str, Any]], reference: Tensor | None = None,
                  real: Tensor | None = None) -> tuple[dict[str, Any], list[int | None]]:
    """summary.json's `pareto` block of samples.csv rows (their objective columns), and each row's Pareto rank;
    `reference`, `real`: the oriented objective values (n, K) of the pre-trained model's reference samples and of
    real held-out samples."""
    g = objectives.from_rows(rows)
    ranks = pareto_ranks(g)
    block = {"objectives": objectives.record(), "front_size": sum(r == 0 for r in ranks),
             "hypervolume": round(hypervolume(g), 6), "reference_point": objectives.reference_point(),
             "normalisation": "each objective scaled to [0, 1] over its range (0 = the worst end); the hypervolume "
                              "is the volume the samples dominate in that unit box above the reference point"}
    if reference is not None and len(reference):
        block["reference_hypervolume"] = round(hypervolume(objectives.normalise(reference.double())), 6)
    if real is not None and len(real):
        block["real_hypervolume"] = round(hypervolume(objectives.normalise(real.double())), 6)
        block["real_samples"] = len(real)
    return block, ranks
