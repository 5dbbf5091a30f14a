"""DSearch's beam-width schedules (Li et al. 2025; docs/algorithms.md item 13), composed by
configs/sampler/width_schedule/.

A schedule maps the run's progress u = step / steps in [0, 1] to the share f(u) in [0, 1] of the extra width:
the beam keeps B_u = B + round((oversample - 1) B f(u)) beams after a step, from oversample * B at the start
down to B at the end (f(1) = 0)."""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[float], float]  # progress u -> share f(u) of the extra width


def constant(u: float) -> float:
    """f = 0: B beams throughout (plain beam search)."""
    return 0.0


def linear(u: float) -> float:
    """f(u) = 1 - u."""
    return 1.0 - u


def exp(u: float, rate: float = 4.0) -> float:
    """f(u) = (e^{-rate u} - e^{-rate}) / (1 - e^{-rate}): most of the width early."""
    return (math.exp(-rate * u) - math.exp(-rate)) / (1 - math.exp(-rate))


def sigmoid(u: float, sharpness: float = 12.0) -> float:
    """A logistic step from 1 to 0 around u = 1/2, rescaled so that f(0) = 1 and f(1) = 0."""
    top, bottom = 1 / (1 + math.exp(-sharpness / 2)), 1 / (1 + math.exp(sharpness / 2))
    return (1 / (1 + math.exp(sharpness * (u - 0.5))) - bottom) / (top - bottom)
