"""FK steering (Feynman-Kac; docs/algorithms.md item 6, Singhal et al. 2025): SMC whose incremental weight at
each step t -> s is a potential G_s on the x0-hat rewards r_s = r(x0-hat(x_s)) along the particle's path
(potentials.py):
    difference  G_s = exp(lambda (r_s - r_t))          (telescopes to exp(lambda r_0); r before x_T is 0)
    max         G_s = exp(lambda max_{u >= s} r_u)
    sum         G_s = exp(lambda sum_{u >= s} r_u)
with lambda = 1 / alpha, x_T weighted by G_T too. The path product prod_u G_u is carried along every
lineage (through resampling), and the final correction weight exp(lambda r_0) / prod_u G_u makes the
target p(x_0) exp(r(x_0) / alpha) for all three (it is 1 for difference).
Bootstrap proposal, adaptive resampling as smc; K network evaluations per output per step: K T per output.
"""

from __future__ import annotations

import torch

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.particles import Particles, ParticleSampler, finish, predict_value, record, value
from svdd_cli.samplers.potentials import Difference, Potential
from svdd_cli.samplers.resampling import Scheme, systematic
from svdd_cli.samplers.steps import start


class FK(ParticleSampler):
    """Feynman-Kac steering with a difference / max / sum potential; K particles per output."""

    def __init__(self, num_particles: int = 10, alpha: float = 0.1, potential: Potential | None = None,
                 ess_threshold: float = 0.5, resampling: Scheme = systematic, resample_from: float = 0.0,
                 resample_until: float = 1.0) -> None:
        """`potential`: a potentials.py object (configs/sampler/potential/*.yaml); None = Difference()."""
        super().__init__(num_particles, alpha, ess_threshold, resampling, resample_from, resample_until)
        if potential is not None and not callable(potential):
            raise ValueError(f"sampler.potential={potential!r} is not a potential: pick one with "
                             "sampler/potential=NAME (difference, max, sum)")
        self.lam, self.potential = 1 / alpha, Difference() if potential is None else potential

    def particles(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
                  trace: Trace) -> Particles:
        """All n*K particles (one batch) with their weights; the last trace record holds the weights."""
        times, x, pred = start(model, n * self.k, generator)  # (n*K, ...)
        steps = len(times) - 1
        initial = torch.full((n * self.k,), self.potential.initial)
        g, carry = self.potential(initial, value(model, reward, x, pred, n))
        log_path = self.lam * g  # (n*K,) log prod_u G_u along each particle's lineage
        log_w, log_z = log_path.view(n, self.k), torch.zeros(n)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = model.propose(pred, s, generator)  # bootstrap: x_s ~ p_pre(. | x_t)
            pred, r = predict_value(model, reward, x, s, step == steps - 1, n)  # r_s = r(x0-hat(x_s)); r(x_0) last
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
