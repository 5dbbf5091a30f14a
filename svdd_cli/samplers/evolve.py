"""Evolution around the prior (docs/algorithms.md item 16): a genetic loop whose mutation is the pre-trained model,
for oracles that are paid per call (PMO's setting: GenMol's fragment remasking, Mol GA's rank-based selection).

The oracle sees clean samples only. The population (n samples, the outputs) starts as the best distinct ones of
`initial` x n ancestral samples; each generation makes `offspring` x n children:
  1. a parent drawn by rank, weight 1 / (kappa n + rank) (rank 0 = best);
  2. with probability `crossover`, a one-point crossover with a second parent (the states flattened, the first
     part from one parent and the rest from the other: a prefix and a suffix of a token sequence);
  3. re-noised to t* = remask_fraction by the forward process (masked models: that share of positions re-masked,
     i.e. whole fragments for the fragment-token molecule model; Gaussian models: SDEdit), then re-denoised by the
     pre-trained kernel's own steps from t* to 0.
Children are scored once each (the run's ledger makes a repeat free); the population keeps the n best distinct
samples of parents and children. It stops after `generations`, or once the oracle budget is spent (core.Metered).
Cost per output: T initial (one pass for each of the `initial` samples) + generations x offspring x k* NFE,
k* = round(f T) the steps below t*.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Metered, Reward, Sampler, Trace
from svdd_cli.oracle_calls import sample_key
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.steps import at_least, last_steps, rollout, round_steps


class Evolve:
    """A population of the n best distinct samples, improved by re-denoised (and crossed-over) children."""

    def __init__(self, generations: int = 20, initial: int = 4, offspring: int = 1, remask_fraction: float = 0.25,
                 crossover: float = 0.2, kappa: float = 0.01) -> None:
        at_least("generations", generations, 0)
        at_least("initial", initial, 1)
        at_least("offspring", offspring, 1)
        if not 0 < remask_fraction <= 1:
            raise ValueError(f"sampler.remask_fraction={remask_fraction} must be in (0, 1]")
        if not 0 <= crossover <= 1:
            raise ValueError(f"sampler.crossover={crossover} must be a probability in [0, 1]")
        if kappa <= 0:
            raise ValueError(f"sampler.kappa={kappa} must be > 0 (smaller: selection favours the best more)")
        self.generations, self.initial, self.offspring = generations, initial, offspring
        self.fraction, self.crossover, self.kappa = remask_fraction, crossover, kappa

    def nfe(self, steps: int) -> int:
        return self.initial * steps + self.generations * self.offspring * round_steps(self.fraction, steps)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many generations as the budget allows after the initial population."""
        return fit(lambda g: resized(self, generations=g - 1), nfe_per_sample, steps, "generations + 1")

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        draws = generator_on_cpu(generator)  # parents, cut points, crossover coins
        x = rollout(model, model.init(self.initial * n, generator), generator, lambda r: trace({"generation": 0, **r}))
        samples = model.decode(x)
        x, r, samples = survivors(x, reward(samples), samples, n)
        times = last_steps(list(model.timesteps()), self.fraction)  # t* down to 0
        for g in range(1, self.generations + 1):
            if isinstance(reward, Metered) and reward.calls_left() == 0:
                break
            children = self.children(model, x, r, times, generator, draws)
            born = model.decode(children)
            x, r, samples = survivors(torch.cat([x, children]), torch.cat([r, reward(born)]), samples + born, n)
            trace({"generation": g, "step": "population", "reward_mean": r.mean().item(),
                   "reward_max": r.max().item(), "kept_mean": r.mean().item()})
        return x

    def children(self, model: DiffusionModel, x: Tensor, r: Tensor, times: list[float], generator: torch.Generator,
                 draws: torch.Generator) -> Tensor:
        """offspring x n children (offspring n, ...) of the population x (n, ...) with rewards r (n,)."""
        n = len(x)
        rank = r.argsort(descending=True).argsort().float()  # 0 = best
        picks = torch.multinomial(1 / (self.kappa * n + rank), 2 * self.offspring * n, replacement=True,
                                  generator=draws).view(2, -1).to(x.device)
        first, second = x[picks[0]].flatten(1), x[picks[1]].flatten(1)
        cut = torch.randint(1, first.shape[1], (len(first), 1), generator=draws)
        crossed = torch.rand(len(first), 1, generator=draws) < self.crossover
        take_second = ((torch.arange(first.shape[1]) >= cut) & crossed).to(x.device)
        mixed = torch.where(take_second, second, first).view(len(first), *x.shape[1:])
        return rollout(model, model.noise_to(mixed, times[0], generator), generator, lambda r: None, times)


def survivors(x: Tensor, r: Tensor, samples: list[Any], n: int) -> tuple[Tensor, Tensor, list[Any]]:
    """The n best of x (B, ...) by reward r (B,) with their decoded samples, one per distinct sample (when fewer
    than n are distinct, the best are repeated)."""
    seen, keep = set(), []
    for i in r.argsort(descending=True, stable=True).tolist():
        key = sample_key(samples[i])
        if key not in seen:
            seen.add(key)
            keep.append(i)
        if len(keep) == n:
            break
    rows = torch.tensor(keep)[torch.arange(n) % len(keep)]
    return x[rows.to(x.device)], r[rows], [samples[i] for i in rows.tolist()]


def generator_on_cpu(generator: torch.Generator) -> torch.Generator:
    """The CPU generator the sampler's small draws (parents, cut points) use: the run's own when it is on the CPU,
    else one seeded from it (so a CUDA run stays reproducible)."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)
