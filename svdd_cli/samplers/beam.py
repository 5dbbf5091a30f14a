"""Beam search (ALGORITHMS.md item 8): B beams per output, each expanded into K children per step.

All B*K children of an output are scored by value, r(x0-hat(child)), or with lookahead L > 0 the reward of
x0-hat after rolling the child L more pre-trained steps (r(x_0) when the rollout reaches the end); repeats
of an identical child are dropped, and the global top B become the next beams (duplicates only when
fewer than B distinct children exist). Returns each output's best beam at the end. With B = 1 it is
svdd's argmax selection with M = K. Cost per output: 1 + B K (T - 1) evaluations, plus B K L per step
for the lookahead (fewer near the end).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Trace


class Beam:
    """Value-guided beam search over the pre-trained kernel's proposals."""

    def __init__(self, num_beams: int = 2, num_children: int = 5, lookahead: int = 0) -> None:
        if num_beams < 1:
            raise ValueError(f"sampler.num_beams={num_beams} must be >= 1")
        if num_children < 1:
            raise ValueError(f"sampler.num_children={num_children} must be >= 1")
        if lookahead < 0:
            raise ValueError(f"sampler.lookahead={lookahead} must be >= 0 (0 = score x0-hat directly)")
        self.b, self.k, self.lookahead = num_beams, num_children, lookahead

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times = model.timesteps()
        steps, c = len(times) - 1, self.b * self.k
        pred = model.predict(model.init(n, generator), times[0]).repeat(self.b)  # n*B identical beams at x_T
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x_c = model.propose(pred.repeat(self.k), s, generator)  # (n*B*K, ...) children
            final = step == steps - 1
            pred_c = None if final else model.predict(x_c, s)
            score = (reward(model.decode(x_c)) if final else
                     self.score(model, reward, pred_c, times[step + 1:], generator)).view(n, c)
            unique = dedupe(x_c.view(n, c, *x_c.shape[1:]), score)  # repeats of a child -> -inf
            top = unique.topk(self.b, dim=1)  # global top B per output, (n, B)
            rows = (top.indices + torch.arange(n)[:, None] * c).flatten().to(x_c.device)
            trace({"step": step, "t": t, "value_mean": score.mean().item(), "value_max": score.max().item(),
                   "kept_mean": score.gather(1, top.indices).mean().item(),
                   "distinct": torch.isfinite(unique).sum(1).float().mean().item()})
            x_c, pred = x_c[rows], None if final else pred_c.take(rows)
        return x_c.view(n, self.b, *x_c.shape[1:])[:, 0]  # top-1 first: the best beam per output

    def score(self, model: DiffusionModel, reward: Reward, pred: Prediction, times: Sequence[float],
              generator: torch.Generator) -> Tensor:
        """Scores (rows,) of children at times[0]: r(x0-hat) after up to L more pre-trained steps."""
        for s in times[1:self.lookahead + 1]:
            x = model.propose(pred, s, generator)
            if s == times[-1]:  # reached x_0: score it directly
                return reward(model.decode(x))
            pred = model.predict(x, s)
        return reward(model.decode(pred.x0))


def dedupe(x: Tensor, score: Tensor) -> Tensor:
    """Scores (n, C) with every repeat of an identical child among x (n, C, ...) of the same output
    set to -inf (the first occurrence keeps its score)."""
    n, c = score.shape
    flat = x.reshape(n * c, -1)
    group = torch.arange(n, device=x.device).repeat_interleave(c).unsqueeze(1).to(flat.dtype)
    _, inverse = torch.unique(torch.cat([group, flat], 1), dim=0, return_inverse=True)  # (n*C,) class ids
    index = torch.arange(n * c, device=x.device)
    first = torch.full((n * c,), n * c, device=x.device).scatter_reduce(0, inverse, index, "amin")
    repeat = (first[inverse] != index).view(n, c).to(score.device)
    return score.masked_fill(repeat, -math.inf)
