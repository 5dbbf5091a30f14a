"""SVDD-PM (Li et al. 2024, Algorithm 1): soft value-based decoding with posterior-mean values.

At each step t -> s, every sample draws M candidates x_s^(m) ~ p_pre(. | x_t) (one batch of B*M),
scores v^(m) = r(x0-hat(x_s^(m))) and keeps argmax_m v (alpha = 0) or m ~ softmax(v / alpha).
The kept candidate's prediction is reused at the next step, so a step costs M network evaluations.
Optional: K > 1 sampled completions give the soft value alpha * log mean_k exp(r(x0_k) / alpha);
guidance only for steps inside [guide_from, guide_until) (fractions of the run), plain steps elsewhere.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Trace
from svdd_cli.samplers.overlap import predict_and_score


class SVDD:
    """Soft value-based decoding; M candidates per sample per step."""

    def __init__(self, num_candidates: int = 10, alpha: float = 0.0, value_samples: int = 1,
                 guide_from: float = 0.0, guide_until: float = 1.0) -> None:
        if num_candidates < 1:
            raise ValueError(f"sampler.num_candidates={num_candidates} must be >= 1")
        if alpha < 0:
            raise ValueError(f"sampler.alpha={alpha} must be >= 0 (0 = argmax)")
        if value_samples < 1:
            raise ValueError(f"sampler.value_samples={value_samples} must be >= 1")
        if value_samples > 1 and alpha == 0:
            raise ValueError("sampler.value_samples > 1 needs sampler.alpha > 0 (the soft value's temperature)")
        if not 0 <= guide_from < guide_until <= 1:
            raise ValueError(f"sampler.guide_from={guide_from}, guide_until={guide_until}: need 0 <= from < until <= 1")
        self.m, self.alpha, self.k = num_candidates, alpha, value_samples
        self.guide_from, self.guide_until = guide_from, guide_until

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times = model.timesteps()
        steps = len(times) - 1
        x = model.init(n, generator)
        pred = model.predict(x, times[0])
        for step, (t, s) in enumerate(pairwise(times)):
            final = step == steps - 1
            guided = self.guide_from <= step / steps < self.guide_until
            m = self.m if guided else 1
            x_s = model.propose(pred.repeat(m), s, generator)  # (n*m, ...)
            if not guided:
                x, pred = x_s, None if final else model.predict(x_s, s)
                trace({"step": step, "t": t})
                continue
            if final:  # the candidates are clean samples: their true reward
                pred_s, v = None, reward(model.decode(x_s))
            elif self.k == 1:  # posterior-mean values, a chunk scored while the next goes through the network
                pred_s, v = predict_and_score(model, reward, x_s, s)
            else:
                pred_s = model.predict(x_s, s)
                v = self.soft_value(model, reward, pred_s, generator)
            v = v.view(n, m)
            keep = select(v, self.alpha, generator) + torch.arange(n) * m
            x = x_s[keep.to(x_s.device)]
            pred = None if final else pred_s.take(keep.to(x_s.device))
            trace({"step": step, "t": t, "value_mean": v.mean().item(), "value_max": v.max().item(),
                   "kept_mean": v.gather(1, (keep % m).view(n, 1)).mean().item()})
        return x

    def soft_value(self, model: DiffusionModel, reward: Reward, pred: Prediction,
                   generator: torch.Generator) -> Tensor:
        """(B*M,) soft values alpha * log mean_k exp(r(x0_k) / alpha) over K sampled completions."""
        draws = torch.cat([model.sample_x0(pred, generator) for _ in range(self.k)])  # (K*B*M, ...)
        r = reward(model.decode(draws)).view(self.k, -1)
        return self.alpha * (torch.logsumexp(r / self.alpha, dim=0) - math.log(self.k))


def select(v: Tensor, alpha: float, generator: torch.Generator) -> Tensor:
    """Index of the kept candidate per row of v (n, M): argmax (alpha = 0), or a draw from softmax(v / alpha)."""
    if alpha == 0:
        return v.argmax(1)
    return categorical(torch.softmax(v / alpha, dim=1), generator)


def categorical(probs: Tensor, generator: torch.Generator) -> Tensor:
    """One draw per row of probs (n, M) by inverse CDF, with uniforms from `generator` on its device."""
    u = torch.rand(probs.shape[0], 1, generator=generator, device=generator.device).to(probs.device)
    return (probs.cumsum(1) < u).sum(1).clamp_max(probs.shape[1] - 1)
