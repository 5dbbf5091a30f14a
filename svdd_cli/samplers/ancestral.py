"""Plain ancestral sampling from the pre-trained model: the "pre-trained" row of every table."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Trace


class Ancestral:
    """x_T -> x_0 through p_pre; T network evaluations per sample, no reward calls."""

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        return rollout(model, model.init(n, generator), generator, trace)


def rollout(model: DiffusionModel, x: Tensor, generator: torch.Generator, trace: Trace) -> Tensor:
    """Run every step of the pre-trained kernel on a batch x_T (B, ...) and return x_0 (B, ...)."""
    times = model.timesteps()
    for step, (t, s) in enumerate(pairwise(times)):
        x = model.propose(model.predict(x, t), s, generator)
        trace({"step": step, "t": t})
    return x
