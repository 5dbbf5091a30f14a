"""The loop shared by the gradient-guidance samplers dps and classifier_guidance (docs/algorithms.md items 9, 10).

Each step t -> s gets a guidance direction at x_t from the sampler (core.Direction), clips it, and the model takes
the guided step with it times `scale`, rho (core.Guided.propose_guided):
    masked models: first-order guided transition. For a masked position i unmasking to token j, the logit of
        that transition gets rho * delta[i, j], delta[i, j] ~ the change of the guiding function when x_s puts
        j at i (staying masked and unmasked positions: 0); unmasked positions are carried over as before.
    Gaussian models: x_s = x_s^pre + rho * gradient at x_t (x_s^pre ~ p_pre(. | x_t)).
Per-sample clipping of the direction's norm to max_grad_norm, and a NaN guard: a sample whose direction is not
finite takes the plain pre-trained step (counted in the trace). scale = 0 draws exactly the ancestral samples.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import torch
from torch import Tensor

from svdd_cli.core import Direction, Guided, Trace


class Guarded(NamedTuple):
    """A direction after clipping and the NaN guard."""

    direction: Tensor  # (B, ...) clipped; zero in non-finite rows
    norm: Tensor  # (B,) norm before clipping (NaN in non-finite rows)
    clipped: Tensor  # (B,) bool: the norm was above max_norm
    bad: Tensor  # (B,) bool: the direction had a NaN/inf entry


def guard(direction: Tensor, max_norm: float | None) -> Guarded:
    """Clip each row of direction (B, ...) to norm max_norm (None: no clipping); zero its non-finite rows."""
    flat = direction.flatten(1)
    bad = ~torch.isfinite(flat).all(1)
    norm = flat.norm(dim=1).masked_fill(bad, torch.nan)
    factor = torch.ones_like(norm) if max_norm is None else (max_norm / norm).clamp(max=1.0)
    factor = factor.masked_fill(bad, 0.0).view(-1, *[1] * (direction.dim() - 1))
    clean = torch.where(factor == 0, 0.0, direction * factor)  # 0 * inf would be NaN
    return Guarded(clean, norm, ~bad & (factor.flatten() < 1), bad)


def guided_sample(model: Guided, n: int, direction: Direction, scale: float, max_norm: float | None,
                  generator: torch.Generator, trace: Trace) -> Tensor:
    """Draw n samples x_T -> x_0, every step guided by direction(x_t, t); returns (n, ...)."""
    x = model.init(n, generator)
    for step, (t, s) in enumerate(pairwise(model.timesteps())):
        pred, value, raw = direction(x, t)
        g = guard(raw, max_norm)
        x = model.propose_guided(pred, s, scale * g.direction, generator)
        trace({"step": step, "t": t, "value_mean": value.nanmean().item(),
               "value_max": value.nan_to_num(-torch.inf).max().item(), "grad_norm": g.norm.nanmean().item(),
               "clipped": int(g.clipped.sum()), "nan_grads": int(g.bad.sum())})
    return x
