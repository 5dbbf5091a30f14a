"""Training data for value networks: rollouts of the pre-trained model with their states and rewards.

Each trajectory x_T -> x_0 is drawn by ancestral sampling; the states x_t at every time 0 < t < 1 of
model.timesteps() (the inputs svdd_mc evaluates) are kept with the trajectory's reward r(x_0), or with
the soft target alpha * log mean_k exp(r(x0_k) / alpha) over K completions of x_t (its own end plus K - 1
fresh pre-trained rollouts from x_t), computed at every `completion_every`-th state only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward


@dataclass
class Rollouts:
    """N trajectories over S recorded times (the states fed to the value network)."""

    x: Tensor  # (N, S, L) int16 tokens x_t, on the CPU
    t: Tensor  # (S,) times, descending
    reward: Tensor  # (N,) r(x_0) of each trajectory's end
    target: Tensor  # (N, S) regression target: r(x_0), or the soft target where labelled
    labelled: Tensor  # (S,) bool: times that have a target (all, unless completions > 1)
    x0hat_reward: Tensor | None  # (N, S) r(x0-hat(x_t)), SVDD-PM's value, when asked for


def draw_rollouts(model: DiffusionModel, reward: Reward, n: int, batch_size: int, generator: torch.Generator,
                  completions: int = 1, completion_every: int = 5, alpha: float = 1.0, score_x0hat: bool = False,
                  advance: Callable[[int], None] = lambda k: None) -> Rollouts:
    """n trajectories in batches of batch_size; `advance(k)` is called after each batch of k trajectories."""
    times = model.timesteps()
    recorded = times[1:-1]
    labelled = torch.ones(len(recorded), dtype=torch.bool)
    if completions > 1:
        labelled = torch.arange(len(recorded)) % completion_every == 0
    parts = []
    for first in range(0, n, batch_size):
        parts.append(_batch(model, reward, min(batch_size, n - first), generator, labelled, completions, alpha,
                            score_x0hat))
        advance(parts[-1][0].shape[0])
    x, r, target, x0hat = (torch.cat(p) if p[0] is not None else None for p in zip(*parts))
    return Rollouts(x, torch.tensor(recorded), r, target, labelled, x0hat)


def _batch(model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator, labelled: Tensor,
           completions: int, alpha: float, score_x0hat: bool) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """One batch of n trajectories: states (n, S, L), r(x_0) (n,), targets (n, S), x0-hat rewards (n, S)."""
    times = model.timesteps()
    x = model.init(n, generator)
    states, x0hat, extra = [], [], {}
    for step in range(len(times) - 1):
        pred = model.predict(x, times[step])
        if step > 0:  # x_t for 0 < t < 1
            states.append(x.to("cpu", torch.int16))
            if score_x0hat:
                x0hat.append(reward(model.decode(pred.x0)))
            if completions > 1 and labelled[step - 1]:
                extra[step - 1] = reward(model.decode(complete(model, pred.repeat(completions - 1), times[step:],
                                                               generator))).view(n, completions - 1)
        x = model.propose(pred, times[step + 1], generator)
    r = reward(model.decode(x))
    target = r.unsqueeze(1).repeat(1, len(states))
    for j, rewards in extra.items():  # soft value over the trajectory's own end and K - 1 fresh completions
        both = torch.cat([r.unsqueeze(1), rewards], dim=1) / alpha
        target[:, j] = alpha * (torch.logsumexp(both, dim=1) - math.log(completions))
    return torch.stack(states, 1), r, target, torch.stack(x0hat, 1) if score_x0hat else None


def complete(model: DiffusionModel, pred: Prediction, times: list[float], generator: torch.Generator) -> Tensor:
    """Finish pre-trained trajectories from the predictions at times[0]: x_0 (B, ...), len(times) - 2 NFE each."""
    x = model.propose(pred, times[1], generator)
    for t, s in zip(times[1:-1], times[2:]):
        x = model.propose(model.predict(x, t), s, generator)
    return x
