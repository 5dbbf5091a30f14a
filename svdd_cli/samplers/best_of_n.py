"""Best-of-N: draw N full samples per output and keep the one with the highest reward.

Costs N * T network evaluations per output, T the number of steps. SVDD with M candidates costs
1 + M (T - 1) (x_T once, then M per step; x_0 needs none), so `match_nfe=M` picks the smallest N that
spends at least as much: N = ceil((1 + M (T - 1)) / T), which is M whenever M <= T. A budget sets
N = floor(budget / T).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Metered, Reward, Sampler, Trace, output_rewards, per_output
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.steps import at_least, rollout


class BestOfN:
    """For each of n outputs, the best of `num_candidates` ancestral samples (or NFE-matched to svdd)."""

    def __init__(self, num_candidates: int = 10, match_nfe: int | None = None) -> None:
        at_least("num_candidates", num_candidates, 1)
        if match_nfe is not None and match_nfe < 1:
            raise ValueError(f"sampler.match_nfe={match_nfe} must be >= 1 (svdd's num_candidates) or null")
        self.num_candidates, self.match_nfe = num_candidates, match_nfe

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        big_n = self.candidates(len(model.timesteps()) - 1)
        x = rollout(model, model.init(n * big_n, generator), generator, trace)  # (n*N, ...)
        r = scored(reward, model.decode(x), n, big_n).view(n, big_n)
        best = r.argmax(1) + torch.arange(n) * big_n
        trace({"step": "final", "num_candidates": big_n, "reward_mean": r.mean().item(),
               "reward_max": r.max().item(), "kept_mean": r.max(1).values.mean().item()})
        return x[best.to(x.device)]

    def candidates(self, steps: int) -> int:
        """N for a run of T = steps steps: num_candidates, or ceil((1 + M (T - 1)) / T) when match_nfe = M."""
        if self.match_nfe is None:
            return self.num_candidates
        return math.ceil((1 + self.match_nfe * (steps - 1)) / steps)

    def nfe(self, steps: int) -> int:
        return self.candidates(steps) * steps

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many candidates N as the budget allows (match_nfe dropped: the budget matches the compute)."""
        return fit(lambda big_n: resized(self, num_candidates=big_n, match_nfe=None), nfe_per_sample, steps,
                   "num_candidates")


def scored(reward: Reward, samples: list, n: int, big_n: int) -> Tensor:
    """(n * N,) rewards of n outputs' N candidates each (output-major rows). Under an oracle budget they are asked
    candidate-major, the first candidate of every output, then the second, ...: a budget that runs out inside the
    call leaves every output some scored candidates instead of leaving the last outputs none."""
    outputs = per_output(n, len(samples))
    if not (isinstance(reward, Metered) and reward.calls_left() is not None):
        return output_rewards(reward, samples, outputs)
    order = torch.arange(n * big_n).view(n, big_n).t().reshape(-1)
    r = torch.empty(n * big_n)
    r[order] = output_rewards(reward, [samples[i] for i in order.tolist()], outputs[order])
    return r
