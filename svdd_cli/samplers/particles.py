"""What the SMC family (smc, fk, nested_is, particle_gibbs; docs/algorithms.md items 5-7, 15) shares: weighted
particles, their settings and one-draw `sample`, x0-hat values, the per-step trace record and the final
normalisation."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Sampler, Trace, output_rewards, per_output
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.overlap import predict_and_score
from svdd_cli.samplers.resampling import Resampled, Resampling, Scheme, ess, systematic
from svdd_cli.samplers.selection import categorical
from svdd_cli.samplers.steps import at_least


class Particles(NamedTuple):
    """K weighted particles per output: a weighted sample of the target."""

    x: Tensor  # (n, K, ...) particles
    log_w: Tensor  # (n, K) normalised log-weights
    log_z: Tensor  # (n,) log of the unbiased estimate of E_p[exp(r(x_0) / alpha)] (the evidence)

    def draw(self, generator: torch.Generator) -> Tensor:
        """One particle per output drawn by its normalised weight: (n, ...)."""
        pick = categorical(self.log_w.exp(), generator).to(self.x.device)
        return self.x[torch.arange(len(self.x), device=self.x.device), pick]


class ParticleSampler(ABC):
    """K particles per output targeting p(x_0) exp(r(x_0) / alpha), adaptive resampling; `sample` returns one
    particle per output drawn by its weight. The budget sets K (nfe(steps) is linear in K)."""

    def __init__(self, num_particles: int, alpha: float, ess_threshold: float, resampling: Scheme = systematic,
                 resample_from: float = 0.0, resample_until: float = 1.0) -> None:
        at_least("num_particles", num_particles, 1)
        check_alpha(alpha)
        self.k, self.alpha = num_particles, alpha
        self.resampling = Resampling(resampling, ess_threshold, resample_from, resample_until)

    @abstractmethod
    def particles(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
                  trace: Trace) -> Particles:
        """All n*K particles with their weights; the last trace record holds the weights."""

    def nfe(self, steps: int) -> int:
        """Network evaluations per output over `steps` steps: K T for the bootstrap proposal."""
        return self.k * steps

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        return self.particles(model, reward, n, generator, trace).draw(generator)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many particles K as the budget allows."""
        return fit(lambda k: resized(self, k=k), nfe_per_sample, steps, "num_particles")


def check_alpha(alpha: float) -> None:
    """ValueError unless the target's temperature alpha of p(x) exp(r(x) / alpha) is > 0."""
    if alpha <= 0:
        raise ValueError(f"sampler.alpha={alpha} must be > 0 (the target is p(x) exp(r(x) / alpha))")


def predict_value(model: DiffusionModel, reward: Reward, x: Tensor, s: float, final: bool,
                  n: int) -> tuple[Prediction | None, Tensor]:
    """x's prediction at time s and its value r(x0-hat(x)) (B,), each chunk scored while the next goes through the
    network (overlap.py); at the final step x is clean: (None, r(x)). 1 NFE per row, none at the final step.
    x holds n outputs' particles (or candidates) in n blocks (core.per_output)."""
    if final:
        return None, output_rewards(reward, model.decode(x), per_output(n, len(x)))
    return predict_and_score(model, reward, x, s, outputs=per_output(n, len(x)))


def value(model: DiffusionModel, reward: Reward, x: Tensor, pred: Prediction | None, n: int) -> Tensor:
    """r(x0-hat(x)) from x's prediction, or r(x) when x is clean (pred is None): (B,); x holds n outputs'
    particles in n blocks."""
    return output_rewards(reward, model.decode(x if pred is None else pred.x0), per_output(n, len(x)))


def record(step: int, t: float, v: Tensor, log_w: Tensor, res: Resampled) -> dict[str, object]:
    """One trace line: values v (n*K,) of the new particles, their weights log_w (n, K) before resampling."""
    w = torch.softmax(log_w, 1)
    return {"step": step, "t": t, "value_mean": v.mean().item(), "value_max": v.max().item(),
            "kept_mean": (w * v.view(w.shape)).sum(1).mean().item(),  # weighted mean: what the particles keep
            "ess": ess(log_w).mean().item(), "resampled": int(res.resampled.sum())}


def finish(x: Tensor, log_w: Tensor, log_z: Tensor, trace: Trace) -> Particles:
    """Fold the last weights (n, K) into the evidence, normalise them and trace them."""
    n, k = log_w.shape
    log_z = log_z + torch.logsumexp(log_w, 1) - math.log(k)
    log_w = torch.log_softmax(log_w, 1)
    trace({"step": "final", "ess": ess(log_w).mean().item(), "weights": log_w.exp().tolist(),
           "log_evidence": log_z.tolist()})
    return Particles(x.view(n, k, *x.shape[1:]), log_w, log_z)
