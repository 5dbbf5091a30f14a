"""svdd_cli.fronts: the exact hypervolume against hand-computed volumes and inclusion-exclusion, Pareto ranks, the
per-output weights and the Chebyshev selection that never keeps a dominated candidate, and the objectives' checks."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from svdd_cli.errors import UserError
from svdd_cli.fronts import Objectives, chebyshev, hypervolume, pareto_ranks, simplex_weights, with_ranks

T = torch.tensor


@pytest.mark.parametrize(("points", "volume"), [
    ([[0.5, 0.5]], 0.25),
    ([[1.0, 0.2], [0.2, 1.0]], 0.2 + 0.2 - 0.04),  # two boxes and their overlap
    ([[1.0, 0.2], [0.2, 1.0], [0.1, 0.1], [0.2, 0.2]], 0.36),  # dominated points add nothing
    ([[0.6, 0.6], [0.9, 0.3], [0.3, 0.9]], 0.36 + 0.3 * 0.3 + 0.3 * 0.3),  # a staircase: 0.36 + 2 x 0.09
    ([[0.5, -0.1], [float("nan"), 0.5], [0.0, 0.7]], 0.0),  # not above the reference point, or NaN
    ([[0.5, 0.4, 0.2]], 0.04),
    ([[1.0, 1.0, 0.5], [0.5, 0.5, 1.0]], 0.5 + 0.25 - 0.125),
])
def test_hypervolume_is_exact_on_hand_computed_fronts(points, volume):
    assert hypervolume(T(points)) == pytest.approx(volume, abs=1e-6)


def inclusion_exclusion(points: list[list[float]]) -> float:
    """The union of the boxes [0, p] by inclusion-exclusion: the intersection of boxes is the box of their minimum."""
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(points, size):
            total += (-1) ** (size + 1) * math.prod(min(c) for c in zip(*subset))
    return total


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_equals_inclusion_exclusion_on_random_points(k):
    g = torch.Generator().manual_seed(k)
    for _ in range(5):
        points = torch.rand(7, k, generator=g, dtype=torch.float64)
        assert hypervolume(points) == pytest.approx(inclusion_exclusion(points.tolist()), abs=1e-12)


def dominates(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((a >= b).all() and (a > b).any())


def test_rank_zero_points_are_mutually_non_dominated_and_dominate_every_other_point():
    g = torch.rand(60, 2, generator=torch.Generator().manual_seed(0))
    g[5] = g[4]  # a tie shares its rank
    ranks = pareto_ranks(g)
    front = [i for i, r in enumerate(ranks) if r == 0]
    assert not any(dominates(g[i], g[j]) for i in front for j in front)
    assert all(any(dominates(g[i], g[j]) for i in front) for j in range(60) if ranks[j] != 0)
    assert ranks[4] == ranks[5]
    for j, r in enumerate(ranks):  # rank r: dominated by a point of rank r - 1, by none of rank >= r
        if r:
            assert any(dominates(g[i], g[j]) for i in range(60) if ranks[i] == r - 1)
            assert not any(dominates(g[i], g[j]) for i in range(60) if ranks[i] >= r)
    assert pareto_ranks(T([[0.1, float("nan")], [0.2, 0.2]])) == [None, 0]


def test_each_output_weights_lie_on_the_simplex_and_spread():
    for k in (2, 3, 4):
        w = simplex_weights(torch.arange(64), k)
        assert w.shape == (64, k) and (w > 0).all() and torch.allclose(w.sum(1), torch.ones(64))
        assert torch.allclose(w[0], torch.full((k,), 1 / k))  # output 0: equal weights
        assert (w.max(0).values > 0.6).all() and (w.min(0).values < 0.05).all()  # toward every corner
    assert torch.equal(simplex_weights(T([3, 3]), 2)[0], simplex_weights(torch.arange(4), 2)[3])  # by index alone


def test_the_chebyshev_choice_among_candidates_is_never_dominated_and_follows_the_weights():
    g = torch.rand(200, 8, 2, generator=torch.Generator().manual_seed(1))  # 200 outputs x 8 candidates
    weights = simplex_weights(torch.arange(200), 2)
    values = chebyshev(g.view(-1, 2), weights.repeat_interleave(8, 0)).view(200, 8)
    kept = values.argmax(1)
    for i in range(200):
        assert not any(dominates(g[i, m], g[i, kept[i]]) for m in range(8))
    qed_heavy, sa_heavy = weights[:, 0] > 0.8, weights[:, 1] > 0.8  # outputs aiming at either end of the front
    chosen = g[torch.arange(200), kept]
    assert chosen[qed_heavy, 0].mean() > chosen[sa_heavy, 0].mean() + 0.2
    assert chosen[sa_heavy, 1].mean() > chosen[qed_heavy, 1].mean() + 0.2


def test_objectives_orient_and_scale_raw_values_and_keep_the_rows_ranked():
    objectives = Objectives.from_config({"qed": "max", "logp": "min"}, {"qed": [0, 1], "logp": [-2, 6], "x": [0, 1]})
    assert objectives.labels == ("qed", "-logp") and objectives.reference_point() == {"qed": 0.0, "logp": 6.0}
    raw = T([[0.5, 6.0], [1.0, -2.0], [0.25, 2.0]])
    assert torch.allclose(objectives.normalise(objectives.orient(raw)), T([[0.5, 0.0], [1.0, 1.0], [0.25, 0.5]]))
    rows = [{"id": i, "objective_qed": q, "objective_logp": lp, "other": 1} for i, (q, lp) in enumerate(raw.tolist())]
    assert torch.allclose(objectives.from_rows(rows).float(), T([[0.5, 0.0], [1.0, 1.0], [0.25, 0.5]]))
    ranked = with_ranks(rows, pareto_ranks(objectives.from_rows(rows)), objectives)
    assert [list(r) for r in ranked][0] == ["id", "objective_qed", "objective_logp", "pareto_rank", "other"]
    assert [r["pareto_rank"] for r in ranked] == [1, 0, 1]
    assert Objectives.from_record(objectives.record()) == objectives


@pytest.mark.parametrize(("terms", "ranges", "message"), [
    ({"qed": "max", "sa": "up"}, {"qed": [0, 1], "sa": [0, 1]},
     "reward.terms.sa=up is not a direction; use max or min (e.g. reward.terms.sa=max)"),
    ({"qed": "max", "sa": "max"}, {"qed": [0, 1]},
     "reward.ranges.sa is missing: give the range of sa's values that matters, e.g. reward.ranges.sa=[0,1] "
     "(it scales the objective for the front)"),
    ({"qed": "max", "sa": "max"}, {"qed": [0, 1], "sa": [1, 0]},
     "reward.ranges.sa=[1, 0] must be [lo, hi] with lo < hi"),
    ({"qed": "max"}, {"qed": [0, 1]}, "reward.terms has 1 objective(s) (qed); a front needs two or more"),
])
def test_bad_objectives_are_one_line_errors_naming_the_value_and_the_fix(terms, ranges, message):
    with pytest.raises(UserError) as err:
        Objectives.from_config(terms, ranges)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
