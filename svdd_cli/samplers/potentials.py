"""FK steering's potentials (docs/algorithms.md item 6) on the x0-hat rewards r_s = r(x0-hat(x_s)) along a path, as
objects a config composes (configs/sampler/potential/*.yaml). Each maps (carry, r_s) to (log G_s / lambda, carry);
`initial` is the carry before x_T."""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor


class Potential(Protocol):
    initial: float

    def __call__(self, carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        """carry (B,), rewards r_s (B,) -> (log G_s / lambda (B,), new carry (B,))."""


class Difference:
    """G_s = exp(lambda (r_s - r_t)): telescopes to exp(lambda r_0); carry = the previous reward r_t."""

    initial = 0.0

    def __call__(self, carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        return r - carry, r


class RunningMax:
    """G_s = exp(lambda max_{u >= s} r_u); carry = the running max."""

    initial = -math.inf

    def __call__(self, carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        top = torch.maximum(carry, r)
        return top, top


class RunningSum:
    """G_s = exp(lambda sum_{u >= s} r_u); carry = the running sum."""

    initial = 0.0

    def __call__(self, carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        total = carry + r
        return total, total
