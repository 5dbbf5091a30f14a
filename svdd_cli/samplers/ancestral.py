"""Plain ancestral sampling from the pre-trained model: the "pre-trained" row of every table.

With `remask_rounds` R > 0 (masked models; the corrector of ReMDM's loop, Wang et al. 2025): after the pass, R times
re-mask m = round(t* L) uniformly chosen positions of each sample and re-draw them with the kernel's last k* steps,
from t* = k* / T (k* = round(f T), f = remask_fraction) down to 0. Each round re-draws m tokens given all the others,
a block Gibbs move: with exact conditionals it leaves the model's law unchanged; for a learned denoiser, whose
conditionals disagree, it moves samples toward what every conditional agrees on. T + R k* NFE per sample.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, PositionNoise, Reward, Sampler, Trace
from svdd_cli.errors import UserError
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.steps import at_least, last_steps, rollout, round_steps


class Ancestral:
    """x_T -> x_0 through p_pre, then remask_rounds corrector rounds; no reward calls."""

    def __init__(self, remask_rounds: int = 0, remask_fraction: float = 0.15) -> None:
        at_least("remask_rounds", remask_rounds, 0, "0 = none")
        if not 0 < remask_fraction <= 1:
            raise ValueError(f"sampler.remask_fraction={remask_fraction} must be in (0, 1]")
        self.rounds, self.fraction = remask_rounds, remask_fraction

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        if self.rounds and not isinstance(model, PositionNoise):
            raise UserError("sampler.remask_rounds needs a masked (sequence) model; set sampler.remask_rounds=0")
        x = rollout(model, model.init(n, generator), generator, trace)
        sub = last_steps(model.timesteps(), self.fraction)  # t* down to 0
        for k in range(1, self.rounds + 1):
            x = model.noise_to(x, sub[0], generator)  # round(t* L) positions re-masked
            x = rollout(model, x, generator, lambda record, k=k: trace({"round": k, **record}), sub)
        return x

    def nfe(self, steps: int) -> int:
        return steps + self.rounds * round_steps(self.fraction, steps)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """Itself: one pass (and its rounds), whatever the budget above it."""
        return fixed(self, nfe_per_sample, steps)

