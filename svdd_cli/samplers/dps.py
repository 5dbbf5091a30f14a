"""DPS (docs/algorithms.md item 9; Chung et al. 2023, adapted to rewards): gradient guidance by a differentiable reward.

Gaussian models: x_s = x_s^pre + rho * grad_{x_t} r(x0-hat(x_t)), backpropagating through the denoiser (its
differentiable forward, predict_with_grad, replaces predict: one network evaluation per sample per step) and
through the differentiable decode. Masked models: r of the relaxed x0-hat p (B, L, V) (the denoiser's
probabilities at masked positions, one-hot at unmasked ones); unmasking position i to token j changes p_i to
e_j, so to first order r changes by delta[i, j] = g[i, j] - sum_k p[i, k] g[i, k] with g = dr/dp, and rho * delta
is added to the logit of that transition (guidance.py). No backpropagation through the denoiser here, so the
cost is the pre-trained T network evaluations per sample, plus T reward gradients. Each model computes its own
direction (core.Guided.reward_direction) and takes the guided step (propose_guided).
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Guided, Reward, Sampler, Trace
from svdd_cli.errors import UserError
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.guidance import guided_sample


class DPS:
    """Reward-gradient guidance of every step, scale rho; T network evaluations per sample."""

    def __init__(self, scale: float = 1.0, max_grad_norm: float | None = None) -> None:
        if scale < 0:
            raise ValueError(f"sampler.scale={scale} must be >= 0 (0 = the pre-trained model)")
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"sampler.max_grad_norm={max_grad_norm} must be > 0 (null = no clipping)")
        self.scale, self.max_grad_norm = scale, max_grad_norm

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        if not isinstance(model, Guided):
            raise UserError("dps needs a masked model or one with a differentiable forward (predict_with_grad)")
        direction = model.reward_direction(reward, "dps")  # the model's own law of a reward-guided step
        return guided_sample(model, n, direction, self.scale, self.max_grad_norm, generator, trace)

    def nfe(self, steps: int) -> int:
        return steps  # one (guided) network evaluation per sample per step

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """Itself: one guided pass, whatever the budget above it."""
        return fixed(self, nfe_per_sample, steps)
