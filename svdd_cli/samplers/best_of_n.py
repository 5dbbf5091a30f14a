"""Best-of-N: draw N full samples per output and keep the one with the highest reward.

Costs N * T network evaluations per output: at N = M it spends what SVDD with M candidates spends.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.ancestral import rollout


class BestOfN:
    """For each of n outputs, the best of `n_candidates` ancestral samples."""

    def __init__(self, n_candidates: int = 10) -> None:
        if n_candidates < 1:
            raise ValueError(f"sampler.n_candidates={n_candidates} must be >= 1")
        self.n_candidates = n_candidates

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        x = rollout(model, model.init(n * self.n_candidates, generator), generator, trace)  # (n*N, ...)
        r = reward(model.decode(x)).view(n, self.n_candidates)
        best = r.argmax(1) + torch.arange(n) * self.n_candidates
        trace({"step": "final", "reward_mean": r.mean().item(), "reward_max": r.max().item(),
               "kept_mean": r.max(1).values.mean().item()})
        return x[best.to(x.device)]
