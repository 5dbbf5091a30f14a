"""DPS (docs/algorithms.md item 9; Chung et al. 2023, adapted to rewards): gradient guidance by a differentiable reward.

Gaussian models: x_s = x_s^pre + rho * grad_{x_t} r(x0-hat(x_t)), backpropagating through the denoiser (its
differentiable forward, predict_with_grad, replaces predict: one network evaluation per sample per step) and
through the differentiable decode. Masked models: r of the relaxed x0-hat p (B, L, V) (the denoiser's
probabilities at masked positions, one-hot at unmasked ones); unmasking position i to token j changes p_i to
e_j, so to first order r changes by delta[i, j] = g[i, j] - sum_k p[i, k] g[i, k] with g = dr/dp, and rho * delta
is added to the logit of that transition (guidance.py). No backpropagation through the denoiser here, so the
cost is the pre-trained T network evaluations per sample, plus T reward gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import (
    DiffusionModel,
    GradientModel,
    ImageReward,
    MaskedKernel,
    Prediction,
    ProbsReward,
    Reward,
    Sampler,
    Trace,
    reward_name,
)
from svdd_cli.errors import UserError
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.guidance import check_differentiable, guided_sample, vocab_order


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
        if isinstance(model, MaskedKernel):
            check_differentiable(reward, ProbsReward, "dps")
            order = vocab_order(model.vocab, reward.alphabet, reward_name(reward))
            direction = lambda x, t: masked_direction(model, reward, order, x, t)  # noqa: E731
        elif isinstance(model, GradientModel):
            check_differentiable(reward, ImageReward, "dps")
            direction = lambda x, t: gaussian_direction(model, reward, x, t)  # noqa: E731
        else:
            raise UserError("dps needs a masked model or one with a differentiable forward (predict_with_grad)")
        return guided_sample(model, n, direction, self.scale, self.max_grad_norm, generator, trace)

    def nfe(self, steps: int) -> int:
        return steps  # one (guided) network evaluation per sample per step

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """Itself: one guided pass, whatever the budget above it."""
        return fixed(self, nfe_per_sample, steps)


def masked_direction(model: MaskedKernel, reward: ProbsReward, order: Tensor, x_t: Tensor,
                     t: float) -> tuple[Prediction, Tensor, Tensor]:
    """Prediction at x_t (B, L), r of the relaxed x0-hat (B,), and delta (B, L, V) in the model's token order."""
    pred = model.predict(x_t, t)
    probs = pred.output[..., : model.mask_id].exp().requires_grad_()  # (B, L, V): one-hot where unmasked
    with torch.enable_grad():
        r = reward.score_probs(probs[..., order.to(probs.device)])
        (g,) = torch.autograd.grad(r.sum(), probs)
    return pred, r.detach().float().cpu(), g - (g * probs.detach()).sum(-1, keepdim=True)


def gaussian_direction(model: GradientModel, reward: ImageReward, x_t: Tensor,
                       t: float) -> tuple[Prediction, Tensor, Tensor]:
    """Prediction at x_t (B, ...) by the differentiable forward, r(x0-hat) (B,) and its gradient w.r.t. x_t."""
    x_in = x_t.detach().requires_grad_()
    with torch.enable_grad():
        pred = model.predict_with_grad(x_in, t)
        r = reward.score_images(model.decode_images(pred.x0))
        (g,) = torch.autograd.grad(r.sum(), x_in)
    plain = Prediction(x_t=x_t, t=t, x0=pred.x0.detach(), output=pred.output.detach())
    return plain, r.detach().float().cpu(), g
