"""Compute budgets (core.Budgeted): a sampler's width derived from a number of network evaluations per sample.

Every budgeted sampler knows its exact cost `nfe(steps)` per sample for a run of `steps` steps; `fit` picks the
widest version of it (candidates, particles, beams, rounds, iterations ...) whose cost is within the budget, so a
run at a budget never spends more than it. A budget below the cost of the narrowest version is a ValueError
naming that minimum.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class Costed(Protocol):
    def nfe(self, steps: int) -> float:
        """Network evaluations per sample of a run of `steps` steps (evolve's can be a fraction: a mean over rows)."""


S = TypeVar("S", bound=Costed)


def resized(sampler: S, **settings: Any) -> S:
    """A copy of `sampler` with some attributes replaced (the original is left as it is)."""
    clone = copy.copy(sampler)
    clone.__dict__.update(settings)
    return clone


def fixed(sampler: S, nfe_per_sample: int, steps: int) -> S:
    """A sampler whose cost no setting changes (ancestral, svdd_mc): itself, or the ValueError when it does not fit."""
    least = sampler.nfe(steps)
    if nfe_per_sample < least:
        raise ValueError(f"nfe_per_sample={nfe_per_sample} is below the minimum of {least} NFE per sample "
                         f"(one pass of {steps} steps)")
    return sampler


def fit(widths: Callable[[int], S], nfe_per_sample: int, steps: int, what: str) -> S:
    """The widest widths(w), w = 1, 2, ..., whose nfe(steps) <= nfe_per_sample (cost non-decreasing in w);
    ValueError naming the cost of widths(1) when even that is over. `what` names the width in the message.
    The cost grows strictly with w, so w never exceeds the budget."""
    least = widths(1).nfe(steps)
    if nfe_per_sample < least:
        raise ValueError(f"nfe_per_sample={nfe_per_sample} is below the minimum of {least} NFE per sample "
                         f"({what} = 1 over {steps} steps)")
    lo, hi = 1, 2  # widths(lo) fits; find the first hi that does not, then bisect
    while hi <= nfe_per_sample and widths(hi).nfe(steps) <= nfe_per_sample:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if widths(mid).nfe(steps) <= nfe_per_sample else (lo, mid)
    return widths(lo)


def fit_first(nfe_per_sample: int, steps: int, *options: tuple[Callable[[int], S], str]) -> S:
    """fit() of the first (widths, what) option that fits the budget, the later ones narrower (e.g. fewer
    candidates once one particle is all that fits); the last option's ValueError names the true minimum."""
    for widths, what in options[:-1]:
        if widths(1).nfe(steps) <= nfe_per_sample:
            return fit(widths, nfe_per_sample, steps, what)
    return fit(*options[-1][:1], nfe_per_sample, steps, options[-1][1])
