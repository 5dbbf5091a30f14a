"""Nested importance sampling (docs/algorithms.md item 7): SMC whose proposal is SVDD's.

Each of K particles per output draws M candidates x_s^(m) ~ p_pre(. | x_t), scores v^(m) = r(x0-hat(x_s^(m)))
and keeps one m ~ softmax(v / alpha); its weight is multiplied by the nested importance weight
    mean_m exp(v^(m) / alpha) / exp(v_t(x_t) / alpha)
(the numerator is an unbiased estimate of E_p[exp(v_s / alpha) | x_t]). Weights start at exp(v_T / alpha)
and the last step's values are r(x_0), so the target is p(x_0) exp(r(x_0) / alpha). Resampled on low ESS
as smc. svdd is nested_is that never resamples: with K = 1 it draws exactly svdd's samples (alpha > 0).
Cost: 1 + M (T - 1) NFE per particle; a budget sets K (M kept; M shrinks when one particle is all that fits).
"""

from __future__ import annotations

import math

import torch

from svdd_cli.core import DiffusionModel, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fit_first, resized
from svdd_cli.samplers.particles import Particles, ParticleSampler, finish, predict_value, record, value
from svdd_cli.samplers.resampling import Scheme, systematic
from svdd_cli.samplers.selection import categorical
from svdd_cli.samplers.steps import at_least, start


class NestedIS(ParticleSampler):
    """SVDD's M-candidate proposal inside SMC; K particles per output, M candidates per particle."""

    def __init__(self, num_particles: int = 2, num_candidates: int = 5, alpha: float = 0.1,
                 ess_threshold: float = 0.5, resampling: Scheme = systematic, resample_from: float = 0.0,
                 resample_until: float = 1.0) -> None:
        super().__init__(num_particles, alpha, ess_threshold, resampling, resample_from, resample_until)
        at_least("num_candidates", num_candidates, 1)
        self.m = num_candidates

    def nfe(self, steps: int) -> int:
        return self.k * (1 + self.m * (steps - 1))

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many particles K as the budget allows at M candidates (or fewer candidates for one particle)."""
        return fit_first(nfe_per_sample, steps, (lambda k: resized(self, k=k), "num_particles"),
                         (lambda m: resized(self, k=1, m=m), "num_candidates"))

    def particles(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
                  trace: Trace) -> Particles:
        """All n*K particles (one batch of n*K*M candidates per step) with their weights."""
        b, m = n * self.k, self.m
        times, x, pred = start(model, b, generator)  # (n*K, ...)
        steps = len(times) - 1
        v = value(model, reward, x, pred, n)  # v_T(x_T), (n*K,)
        log_w, log_z = (v / self.alpha).view(n, self.k), torch.zeros(n)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x_c = model.propose(pred.repeat(m), s, generator)  # (n*K*M, ...) candidates
            pred_c, v_c = predict_value(model, reward, x_c, s, step == steps - 1, n)  # v^(m); r(x_0^(m)) at the end
            v_c = v_c.view(b, m)
            keep = categorical(torch.softmax(v_c / self.alpha, 1), generator) + torch.arange(b) * m
            nested = torch.logsumexp(v_c / self.alpha, 1) - math.log(m) - v / self.alpha
            log_w = log_w + nested.view(n, self.k)  # log w += log mean_m exp(v^(m)/alpha) - v_t(x_t)/alpha
            v = v_c.flatten()[keep]
            res = self.resampling(log_w, step / steps, generator)
            trace(record(step, t, v, log_w, res))
            rows = keep.to(x_c.device)[res.rows.to(x_c.device)]  # kept candidate of each particle's ancestor
            x, v, log_w, log_z = x_c[rows], v[res.rows], res.log_w, log_z + res.log_z
            pred = None if pred_c is None else pred_c.take(rows)
        return finish(x, log_w, log_z, trace)
