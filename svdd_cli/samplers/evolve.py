"""Evolution around the prior (docs/algorithms.md item 16): a genetic loop whose mutation is the pre-trained model,
for oracles that are paid per call (PMO's setting: GenMol's fragment remasking, Mol GA's rank-based selection).

The oracle sees clean samples only. The population (n samples, the outputs) starts as the best distinct ones of
`initial` x n ancestral samples; each generation makes children of round(screen x offspring x n) parents:
  1. a parent drawn by rank, weight 1 / (kappa n + rank) (rank 0 = best);
  2. with probability `crossover`, a one-point crossover with a second parent (the states flattened, the first
     part from one parent and the rest from the other: a prefix and a suffix of a token sequence);
  3. re-noised to t* = remask_fraction (a list: the parents in equal groups, one fraction each) by the forward
     process (masked models: that share of positions re-masked, i.e. whole fragments for the fragment-token
     molecule model; Gaussian models: SDEdit), then re-denoised by the pre-trained kernel's steps from t* to 0:
     all k* = round(f T) of them, or `denoise_steps` of them (1: every re-noised position drawn from one network
     call); the last network call gives `draws` children (no extra NFE).
The oracle scores round(offspring x n) of the children (at least 1): those never scored before (distinct), ranked
by the `surrogate` (item 17: a GP fitted on every call so far) or, without one, in the order made. The population
keeps the n best distinct samples of parents and scored children. It stops after `generations`, or once the oracle
budget is spent (core.Metered).
Cost per output: T (one pass for each of the `initial` samples) + generations x offspring x screen x k NFE,
k = denoise_steps or k* (the mean over the fractions; exact when the parents split evenly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Metered, Reward, Sampler, Trace
from svdd_cli.oracle_calls import sample_key
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.steps import at_least, generator_on_cpu, last_steps, redenoise_steps, rollout, thinned
from svdd_cli.samplers.surrogate import TanimotoGP


class Evolve:
    """A population of the n best distinct samples, improved by re-denoised (and crossed-over) children."""

    def __init__(self, generations: int = 20, initial: int = 4, offspring: float = 1.0,
                 remask_fraction: float | Sequence[float] = 0.25,
                 crossover: float = 0.2, kappa: float = 0.01, denoise_steps: int | None = None, screen: int = 1,
                 draws: int = 1, surrogate: TanimotoGP | None = None) -> None:
        at_least("generations", generations, 0)
        at_least("initial", initial, 1)
        if offspring <= 0:
            raise ValueError(f"sampler.offspring={offspring} must be > 0 (oracle calls per generation / n)")
        at_least("screen", screen, 1)
        at_least("draws", draws, 1)
        if denoise_steps is not None:
            at_least("denoise_steps", denoise_steps, 1, "null: the prior's own steps below t*")
        fractions = [remask_fraction] if isinstance(remask_fraction, float | int) else list(remask_fraction)
        if not fractions or not all(0 < f <= 1 for f in fractions):
            raise ValueError(f"sampler.remask_fraction={remask_fraction} must be in (0, 1], or a list of such")
        if not 0 <= crossover <= 1:
            raise ValueError(f"sampler.crossover={crossover} must be a probability in [0, 1]")
        if kappa <= 0:
            raise ValueError(f"sampler.kappa={kappa} must be > 0 (smaller: selection favours the best more)")
        self.generations, self.initial, self.offspring = generations, initial, offspring
        self.fractions, self.crossover, self.kappa = fractions, crossover, kappa
        self.denoise_steps, self.screen, self.draws, self.surrogate = denoise_steps, screen, draws, surrogate

    def nfe(self, steps: int) -> float:
        per_child = sum(redenoise_steps(f, steps, self.denoise_steps) for f in self.fractions) / len(self.fractions)
        return self.initial * steps + self.generations * self.offspring * self.screen * per_child

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many generations as the budget allows after the initial population."""
        return fit(lambda g: resized(self, generations=g - 1), nfe_per_sample, steps, "generations + 1")

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        coins = generator_on_cpu(generator)  # parents, cut points, crossover coins
        x = rollout(model, model.init(self.initial * n, generator), generator, lambda r: trace({"generation": 0, **r}))
        samples = model.decode(x)
        scored = Scored(self.surrogate)
        r = scored.add(samples, reward(samples))
        x, r, samples = survivors(x, r, samples, n)
        steps = list(model.timesteps())
        times = [thinned(last_steps(steps, f), redenoise_steps(f, len(steps) - 1, self.denoise_steps))
                 for f in self.fractions]
        for g in range(1, self.generations + 1):
            if isinstance(reward, Metered) and reward.calls_left() == 0:
                break
            made = self.children(model, x, r, times, generator, coins)
            made = made[first_of_each(made)]
            candidates = model.decode(made)
            picked = scored.pick(candidates, max(1, round(self.offspring * n)))
            born = [candidates[i] for i in picked.tolist()]
            scores = scored.add(born, reward(born))
            x, r, samples = survivors(torch.cat([x, made[picked]]), torch.cat([r, scores]), samples + born, n)
            trace({"generation": g, "step": "population", "reward_mean": r.mean().item(),
                   "reward_max": r.max().item(), "kept_mean": r.mean().item(), "new": len(picked)})
        return x

    def children(self, model: DiffusionModel, x: Tensor, r: Tensor, times: list[list[float]],
                 generator: torch.Generator, coins: torch.Generator) -> Tensor:
        """round(screen x offspring x n) = P re-noised parents of the population x (n, ...) with rewards r (n,),
        in as many equal groups as there are remask fractions, each re-denoised along its `times`, `draws` children
        from the last network call of each: (P draws, ...)."""
        n = len(x)
        rank = r.argsort(descending=True).argsort().float()  # 0 = best
        parents = max(1, round(self.screen * self.offspring * n))
        picks = torch.multinomial(1 / (self.kappa * n + rank), 2 * parents, replacement=True,
                                  generator=coins).view(2, -1).to(x.device)
        first, second = x[picks[0]].flatten(1), x[picks[1]].flatten(1)
        cut = torch.randint(1, first.shape[1], (len(first), 1), generator=coins)
        crossed = torch.rand(len(first), 1, generator=coins) < self.crossover
        take_second = ((torch.arange(first.shape[1]) >= cut) & crossed).to(x.device)
        mixed = torch.where(take_second, second, first).view(len(first), *x.shape[1:])
        return torch.cat([self.redrawn(model, group, path, generator)
                          for group, path in zip(mixed.tensor_split(len(times)), times) if len(group)])

    def redrawn(self, model: DiffusionModel, x0: Tensor, times: list[float], generator: torch.Generator) -> Tensor:
        """x0 (P, ...) re-noised to times[0] and re-denoised along `times`: (P draws, ...)."""
        x_t = rollout(model, model.noise_to(x0, times[0], generator), generator, lambda r: None, times[:-1])
        last = model.predict(x_t, times[-2])
        return model.propose(last.repeat(self.draws) if self.draws > 1 else last, times[-1], generator)


class Scored:
    """The samples the oracle has scored in this run: their keys, and features + scores for the surrogate."""

    def __init__(self, surrogate: TanimotoGP | None) -> None:
        self.surrogate, self.keys = surrogate, set()
        self.features: list[Tensor] = []
        self.scores: list[Tensor] = []

    def add(self, samples: list[Any], scores: Tensor) -> Tensor:
        """Record a scored batch of samples and return its scores (B,)."""
        self.keys.update(sample_key(s) for s in samples)
        if self.surrogate is not None:
            self.features.append(self.surrogate.featurize(samples))
            self.scores.append(scores)
        return scores

    def pick(self, samples: list[Any], m: int) -> Tensor:
        """Indices of at most m of the candidate samples worth an oracle call: distinct, never scored, the
        surrogate's best first (without one: in order). Repeats only when none is new (they cost no call)."""
        fresh, seen = [], set()
        for i, s in enumerate(samples):
            key = sample_key(s)
            if key not in self.keys and key not in seen:
                seen.add(key)
                fresh.append(i)
        if not fresh:
            return torch.arange(min(m, len(samples)))
        rows = torch.tensor(fresh)
        if self.surrogate is not None and len(fresh) > m:
            value = self.surrogate.value(torch.cat(self.features), torch.cat(self.scores),
                                         self.surrogate.featurize([samples[i] for i in fresh]))
            rows = rows[value.argsort(descending=True)]
        return rows[:m]


def first_of_each(x: Tensor) -> Tensor:
    """Indices of the first occurrence of each distinct row of x (B, ...), in order (decode each state once)."""
    first: dict[bytes, int] = {}
    for i, row in enumerate(x.flatten(1).cpu().numpy()):
        first.setdefault(row.tobytes(), i)
    return torch.tensor(list(first.values()), device=x.device)


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

