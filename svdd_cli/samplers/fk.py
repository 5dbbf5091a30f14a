"""FK steering (Feynman-Kac; ALGORITHMS.md item 6, Singhal et al. 2025): SMC whose incremental weight at
each step t -> s is a potential G_s on the x0-hat rewards r_s = r(x0-hat(x_s)) along the particle's path:
    difference  G_s = exp(lambda (r_s - r_t))          (telescopes to exp(lambda r_0); r before x_T is 0)
    max         G_s = exp(lambda max_{u >= s} r_u)
    sum         G_s = exp(lambda sum_{u >= s} r_u)
with lambda = 1 / alpha, x_T weighted by G_T too. The path product prod_u G_u is carried along every
lineage (through resampling), and the final correction weight exp(lambda r_0) / prod_u G_u makes the
target p(x_0) exp(r(x_0) / alpha) for all three (it is 1 for difference).
Bootstrap proposal, adaptive resampling as smc; K network evaluations per output per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.resampling import Resampling
from svdd_cli.samplers.smc import Particles, check_particles, finish, record, value

Potential = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (carry, r_s) -> (log G_s / lambda, carry)


def difference(carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """r_s - r_t; carry = the previous reward r_t."""
    return r - carry, r


def running_max(carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """max_{u >= s} r_u; carry = the running max."""
    top = torch.maximum(carry, r)
    return top, top


def running_sum(carry: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """sum_{u >= s} r_u; carry = the running sum."""
    total = carry + r
    return total, total


POTENTIALS: dict[str, tuple[Potential, float]] = {  # potential and its carry before x_T
    "difference": (difference, 0.0), "max": (running_max, -math.inf), "sum": (running_sum, 0.0),
}


class FK:
    """Feynman-Kac steering with a difference / max / sum potential; K particles per output."""

    def __init__(self, num_particles: int = 10, alpha: float = 0.1, potential: str = "difference",
                 ess_threshold: float = 0.5, resampling: str = "systematic", resample_from: float = 0.0,
                 resample_until: float = 1.0) -> None:
        check_particles(num_particles, alpha)
        if potential not in POTENTIALS:
            raise ValueError(f"sampler.potential={potential} is not one of: {', '.join(POTENTIALS)}")
        self.k, self.lam = num_particles, 1 / alpha
        self.potential, self.carry0 = POTENTIALS[potential]
        self.resampling = Resampling(resampling, ess_threshold, resample_from, resample_until)

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        return self.particles(model, reward, n, generator, trace).draw(generator)

    def particles(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
                  trace: Trace) -> Particles:
        """All n*K particles (one batch) with their weights; the last trace record holds the weights."""
        times = model.timesteps()
        steps = len(times) - 1
        x = model.init(n * self.k, generator)  # (n*K, ...)
        pred = model.predict(x, times[0])
        g, carry = self.potential(torch.full((n * self.k,), self.carry0), value(model, reward, x, pred))
        log_path = self.lam * g  # (n*K,) log prod_u G_u along each particle's lineage
        log_w, log_z = log_path.view(n, self.k), torch.zeros(n)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = model.propose(pred, s, generator)  # bootstrap: x_s ~ p_pre(. | x_t)
            pred = None if step == steps - 1 else model.predict(x, s)
            r = value(model, reward, x, pred)  # r_s = r(x0-hat(x_s)); r(x_0) at the end
            g, carry = self.potential(carry, r)
            log_path = log_path + self.lam * g
            log_w = log_w + self.lam * g.view(n, self.k)  # incremental weight G_s
            if step == steps - 1:  # final correction exp(lambda r_0) / prod_u G_u (0 for difference)
                log_w = log_w + (self.lam * r - log_path).view(n, self.k)
            res = self.resampling(log_w, step / steps, generator)
            trace(record(step, t, r, log_w, res))
            rows = res.rows.to(x.device)
            x, carry, log_path = x[rows], carry[res.rows], log_path[res.rows]
            log_w, log_z = res.log_w, log_z + res.log_z
            pred = None if pred is None else pred.take(rows)
        return finish(x, log_w, log_z, trace)
