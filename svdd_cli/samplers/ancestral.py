"""Plain ancestral sampling from the pre-trained model: the "pre-trained" row of every table."""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.steps import rollout


class Ancestral:
    """x_T -> x_0 through p_pre; T network evaluations per sample, no reward calls."""

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        return rollout(model, model.init(n, generator), generator, trace)

    def nfe(self, steps: int) -> int:
        return steps

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """Itself: one pass, whatever the budget above it."""
        return fixed(self, nfe_per_sample, steps)

