"""Choosing among candidates, shared by the samplers that keep one of M proposals per sample
(svdd, svdd_mc, svdd_r, nested_is, refine): one categorical draw per row, argmax or softmax selection."""

from __future__ import annotations

import torch
from torch import Tensor


def categorical(probs: Tensor, generator: torch.Generator) -> Tensor:
    """One draw per row of probs (n, M) by inverse CDF, with uniforms from `generator` on its device."""
    u = torch.rand(probs.shape[0], 1, generator=generator, device=generator.device).to(probs.device)
    return (probs.cumsum(1) < u).sum(1).clamp_max(probs.shape[1] - 1)


def select(v: Tensor, alpha: float, generator: torch.Generator) -> Tensor:
    """Index of the kept candidate per row of v (n, M): argmax (alpha = 0), or a draw from softmax(v / alpha)."""
    if alpha == 0:
        return v.argmax(1)
    return categorical(torch.softmax(v / alpha, dim=1), generator)


def keep(v: Tensor, alpha: float, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
    """Flat rows (n,) of the kept candidates of values v (n, M) (select per row), and the trace figures."""
    n, m = v.shape
    chosen = select(v, alpha, generator)
    stats = {"value_mean": v.mean().item(), "value_max": v.max().item(),
             "kept_mean": v.gather(1, chosen.view(n, 1)).mean().item()}
    return chosen + torch.arange(n) * m, stats
