"""SVDD-PM (Li et al. 2024, Algorithm 1): soft value-based decoding with posterior-mean values.

At each step t -> s, every sample draws M candidates x_s^(m) ~ p_pre(. | x_t) (one batch of B*M),
scores v^(m) = r(x0-hat(x_s^(m))) and keeps argmax_m v (alpha = 0) or m ~ softmax(v / alpha)
(svdd_steps.py). The kept candidate's prediction is reused at the next step, so a step costs M network
evaluations: 1 + M (T - 1) per sample. Optional: K > 1 sampled completions give the soft value
alpha * log mean_k exp(r(x0_k) / alpha); guidance only for steps inside [guide_from, guide_until)
(fractions of the run), plain steps elsewhere. A budget sets M.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.steps import start
from svdd_cli.samplers.svdd_steps import SVDDSteps


class SVDD(SVDDSteps):
    """Soft value-based decoding; M candidates per sample per step."""

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times, x, pred = start(model, n, generator)
        return self.descend(model, reward, x, pred, times, generator, trace)
