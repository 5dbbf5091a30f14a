"""SMC (docs/algorithms.md item 5): K weighted particles per output, bootstrap proposal p_pre.

Target pi(x_0) ~ p(x_0) exp(r(x_0) / alpha). Intermediate potentials G_t(x_t) = exp(lambda_t v_t(x_t) / alpha)
with v_t = r(x0-hat(x_t)) and lambda_t -> 1 (optional tempering); the initial weight is G_T(x_T), then
    log w += log G_s(x_s) - log G_t(x_t)          at every step t -> s,
so the weights telescope to G_0(x_0) = exp(r(x_0) / alpha). An output's particles are resampled when
ESS < kappa * K (inside a window of steps); weights reset to uniform there and are carried otherwise.
A step costs K network evaluations per output (the prediction at x_s is both its value and the next
step's proposal): K T per output.
"""

from __future__ import annotations

import torch

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.particles import Particles, ParticleSampler, finish, predict_value, record, value
from svdd_cli.samplers.resampling import Scheme, systematic
from svdd_cli.samplers.steps import start


class SMC(ParticleSampler):
    """Sequential Monte Carlo with x0-hat value potentials; K particles per output."""

    def __init__(self, num_particles: int = 10, alpha: float = 0.1, ess_threshold: float = 0.5,
                 resampling: Scheme = systematic, resample_from: float = 0.0, resample_until: float = 1.0,
                 tempering: float = 0.0) -> None:
        super().__init__(num_particles, alpha, ess_threshold, resampling, resample_from, resample_until)
        if tempering < 0:
            raise ValueError(f"sampler.tempering={tempering} must be >= 0 (0 = no tempering)")
        self.tempering = tempering

    def particles(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
                  trace: Trace) -> Particles:
        """All n*K particles (one batch) with their weights; the last trace record holds the weights."""
        times, x, pred = start(model, n * self.k, generator)  # (n*K, ...)
        steps = len(times) - 1
        log_g = self.lam(times[0]) * value(model, reward, x, pred, n) / self.alpha  # log G_T(x_T), (n*K,)
        log_w, log_z = log_g.view(n, self.k), torch.zeros(n)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = model.propose(pred, s, generator)  # bootstrap: x_s ~ p_pre(. | x_t)
            pred, v = predict_value(model, reward, x, s, step == steps - 1, n)  # v_s = r(x0-hat(x_s)); r(x_0) last
            log_g_s = self.lam(s) * v / self.alpha  # lambda_0 = 1: G_0 = exp(r(x_0) / alpha)
            log_w = log_w + (log_g_s - log_g).view(n, self.k)  # log w += log G_s(x_s) - log G_t(x_t)
            res = self.resampling(log_w, step / steps, generator)
            trace(record(step, t, v, log_w, res))
            rows = res.rows.to(x.device)
            x, log_g, log_w, log_z = x[rows], log_g_s[res.rows], res.log_w, log_z + res.log_z
            pred = None if pred is None else pred.take(rows)
        return finish(x, log_w, log_z, trace)

    def lam(self, t: float) -> float:
        """Tempering lambda_t = (1 - t)^tempering: 1 throughout when tempering = 0, 1 at t = 0 always."""
        return (1 - t) ** self.tempering
