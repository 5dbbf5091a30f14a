"""Beam search (docs/algorithms.md item 8) with DSearch's schedules (Li et al. 2025; item 13).

B_j beams per output, each expanded into K children at a search step; all B_j K children of an output are
scored by value, r(x0-hat(child)), or with lookahead L > 0 the reward of x0-hat after rolling the child L more
pre-trained steps (r(x_0) when the rollout reaches the end); repeats of an identical child are dropped, and the
global top B_{j+1} become the next beams (duplicates only when fewer distinct children exist), or with
alpha > 0 (DSearch-R) B_{j+1} children are drawn from softmax(score / alpha). The width follows a schedule:
    B_j = B + round((oversample - 1) B f(j / T)),   f(0) = 1, f(1) = 0   (schedules.py: constant f = 0, linear,
exp, sigmoid), from oversample * B beams at x_T down to B at the end. Search only every `search_every`-th step
(and always at the last): between searches every beam takes one pre-trained step (1 NFE). Returns each output's
best beam at the end (top-1 by r(x_0)). With B = 1 and no schedule it is svdd's argmax selection with M = K.
Cost per output (constant width): 1 + B K (T - 1), plus B K L per search step for the lookahead (fewer near the
end); in general `nfe(steps)`. A budget sets B, then K grows into what is left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Sampler, Trace, output_rewards, per_output
from svdd_cli.samplers.budget import fit, fit_first, resized
from svdd_cli.samplers.schedules import Schedule, constant
from svdd_cli.samplers.selection import categorical
from svdd_cli.samplers.steps import at_least, start


class Beam:
    """Value-guided beam search over the pre-trained kernel's proposals, with DSearch's width schedules."""

    def __init__(self, num_beams: int = 2, num_children: int = 5, lookahead: int = 0,
                 width_schedule: Schedule = constant, oversample: float = 1.0, search_every: int = 1,
                 alpha: float = 0.0) -> None:
        if not callable(width_schedule):
            raise ValueError(f"sampler.width_schedule={width_schedule!r} is not a schedule: pick one with "
                             "sampler/width_schedule=NAME (constant, linear, exp, sigmoid)")
        at_least("num_beams", num_beams, 1)
        at_least("num_children", num_children, 1)
        at_least("lookahead", lookahead, 0, "0 = score x0-hat directly")
        at_least("oversample", oversample, 1, "1 = the same width throughout")
        at_least("search_every", search_every, 1)
        at_least("alpha", alpha, 0, "0 = keep the top beams; > 0 = DSearch-R resampling")
        self.b, self.k, self.lookahead = num_beams, num_children, lookahead
        self.schedule, self.oversample, self.every, self.alpha = width_schedule, oversample, search_every, alpha

    def widths(self, steps: int) -> list[int]:
        """Beams per output entering each step 0..T-1 and after the last one: (T + 1) numbers."""
        widths = [self.width(0.0)]
        for step in range(steps):
            widths.append(self.width((step + 1) / steps) if self.search(step, steps) else widths[-1])
        return widths

    def width(self, u: float) -> int:
        return self.b + round((self.oversample - 1) * self.b * self.schedule(u))

    def search(self, step: int, steps: int) -> bool:
        return step % self.every == 0 or step == steps - 1

    def nfe(self, steps: int) -> int:
        """1 for x_T, the children's predictions at every step but the last, and the lookahead rollouts."""
        widths, total = self.widths(steps), 1
        for step in range(steps - 1):
            search = self.search(step, steps)
            children = widths[step] * (self.k if search else 1)
            ahead = min(self.lookahead, steps - step - 1) - (self.lookahead >= steps - step - 1)
            total += children * (1 + (ahead if search else 0))
        return total

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many beams B as the budget allows at K children (or one beam when even that is over), then as many
        children K as those beams allow."""
        beams = fit_first(nfe_per_sample, steps, (lambda b: resized(self, b=b), "num_beams"),
                          (lambda k: resized(self, b=1, k=k), "num_children"))
        return fit(lambda k: resized(beams, k=k), nfe_per_sample, steps, "num_children")

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times, _, pred = start(model, n, generator)
        steps = len(times) - 1
        widths = self.widths(steps)
        pred = pred.repeat(widths[0])  # identical beams at x_T
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            final, search = step == steps - 1, self.search(step, steps)
            c = widths[step] * (self.k if search else 1)  # children per output
            x_c = model.propose(pred.repeat(c // widths[step]), s, generator)  # (n*c, ...) children
            pred_c = None if final else model.predict(x_c, s)
            if not search:  # one pre-trained step per beam
                pred = pred_c
                trace({"step": step, "t": t, "beams": widths[step]})
                continue
            outputs = per_output(n, len(x_c))
            score = (output_rewards(reward, model.decode(x_c), outputs) if final else
                     self.score(model, reward, pred_c, times[step + 1:], outputs, generator)).view(n, c)
            unique = dedupe(x_c.view(n, c, *x_c.shape[1:]), score)  # repeats of a child -> -inf
            kept = self.choose(unique, min(widths[step + 1], c), final, generator)  # (n, B_{j+1})
            rows = (kept + torch.arange(n)[:, None] * c).flatten().to(x_c.device)
            trace({"step": step, "t": t, "value_mean": score.mean().item(), "value_max": score.max().item(),
                   "kept_mean": score.gather(1, kept).mean().item(), "beams": kept.shape[1],
                   "distinct": torch.isfinite(unique).sum(1).float().mean().item()})
            x_c, pred = x_c[rows], None if final else pred_c.take(rows)
        return x_c.view(n, -1, *x_c.shape[1:])[:, 0]  # top-1 first: the best beam per output

    def choose(self, score: Tensor, width: int, final: bool, generator: torch.Generator) -> Tensor:
        """Indices (n, width) of the kept children of scores (n, C): the top `width` (always at the end), or
        with alpha > 0 `width` draws from softmax(score / alpha) (DSearch-R)."""
        if self.alpha == 0 or final:
            return score.topk(width, dim=1).indices
        n = score.shape[0]
        probs = torch.softmax(score / self.alpha, 1).repeat_interleave(width, 0)  # (n*width, C)
        return categorical(probs, generator).view(n, width)

    def score(self, model: DiffusionModel, reward: Reward, pred: Prediction, times: Sequence[float],
              outputs: Tensor, generator: torch.Generator) -> Tensor:
        """Scores (rows,) of children at times[0]: r(x0-hat) after up to L more pre-trained steps; outputs
        (rows,): the output each child is for."""
        for s in times[1:self.lookahead + 1]:
            x = model.propose(pred, s, generator)
            if s == times[-1]:  # reached x_0: score it directly
                return output_rewards(reward, model.decode(x), outputs)
            pred = model.predict(x, s)
        return output_rewards(reward, model.decode(pred.x0), outputs)


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
