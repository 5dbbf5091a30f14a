"""Classifier guidance (docs/algorithms.md item 10): dps with the gradient of a value network v_phi(x_t, t) (SVDD-MC's,
trained by `svdd train-value`) in place of the reward's, for masked models.

First-order guided transition (guidance.py): unmasking a masked position i to token j changes the one-hot of
x_t from e_mask to e_j at i, so to first order v changes by delta[i, j] = g[i, j] - g[i, mask] with
g = dv/d onehot(x_t) (B, L, V+1); rho * delta is added to the logit of that transition. The reward is never
called and the value network is not the denoiser: T network evaluations per sample, as ancestral sampling
(value-network evaluations are reported in the trace, not counted as NFE, as in svdd_mc).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from svdd_cli.core import DiffusionModel, Prediction, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.guidance import guided_sample
from svdd_cli.value.network import ValueNetwork, load_value_network


class ClassifierGuidance:
    """Value-network-gradient guidance of every step of a masked model, scale rho; T NFE per sample."""

    def __init__(self, value: str | Path | ValueNetwork, scale: float = 1.0, max_grad_norm: float | None = None,
                 device: str = "auto") -> None:
        """`value`: a folder written by `svdd train-value`, or a loaded ValueNetwork."""
        if scale < 0:
            raise ValueError(f"sampler.scale={scale} must be >= 0 (0 = the pre-trained model)")
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"sampler.max_grad_norm={max_grad_norm} must be > 0 (null = no clipping)")
        self.scale, self.max_grad_norm = scale, max_grad_norm
        self.net = value if isinstance(value, nn.Module) else load_value_network(value, device)

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        self.net.check_guided_model(model)
        direction = lambda x, t: value_direction(model, self.net, x, t)  # noqa: E731
        return guided_sample(model, n, direction, self.scale, self.max_grad_norm, generator, trace)

    def nfe(self, steps: int) -> int:
        return steps  # one (guided) network evaluation per sample per step

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """Itself: one guided pass, whatever the budget above it."""
        return fixed(self, nfe_per_sample, steps)


def value_direction(model: DiffusionModel, net: ValueNetwork, x_t: Tensor,
                    t: float) -> tuple[Prediction, Tensor, Tensor]:
    """Prediction at x_t (B, L), v(x_t, t) (B,) and delta (B, L, V) = dv/d onehot at each token minus at the mask."""
    value, delta = net.unmasking_gradient(x_t, t)
    return model.predict(x_t, t), value, delta
