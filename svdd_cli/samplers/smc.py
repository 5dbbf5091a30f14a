"""SMC (ALGORITHMS.md item 5): K weighted particles per output, bootstrap proposal p_pre.

Target pi(x_0) ~ p(x_0) exp(r(x_0) / alpha). Intermediate potentials G_t(x_t) = exp(lambda_t v_t(x_t) / alpha)
with v_t = r(x0-hat(x_t)) and lambda_t -> 1 (optional tempering); the initial weight is G_T(x_T), then
    log w += log G_s(x_s) - log G_t(x_t)          at every step t -> s,
so the weights telescope to G_0(x_0) = exp(r(x_0) / alpha). An output's particles are resampled when
ESS < kappa * K (inside a window of steps); weights reset to uniform there and are carried otherwise.
A step costs K network evaluations per output (the prediction at x_s is both its value and the next
step's proposal). Also the shared pieces of fk and nested_is: Particles, value, record, finish.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Trace
from svdd_cli.samplers.resampling import Resampled, Resampling, ess
from svdd_cli.samplers.svdd import categorical


class Particles(NamedTuple):
    """K weighted particles per output: a weighted sample of the target."""

    x: Tensor  # (n, K, ...) particles
    log_w: Tensor  # (n, K) normalised log-weights
    log_z: Tensor  # (n,) log of the unbiased estimate of E_p[exp(r(x_0) / alpha)] (the evidence)

    def draw(self, generator: torch.Generator) -> Tensor:
        """One particle per output drawn by its normalised weight: (n, ...)."""
        pick = categorical(self.log_w.exp(), generator).to(self.x.device)
        return self.x[torch.arange(len(self.x), device=self.x.device), pick]


class SMC:
    """Sequential Monte Carlo with x0-hat value potentials; K particles per output."""

    def __init__(self, num_particles: int = 10, alpha: float = 0.1, ess_threshold: float = 0.5,
                 resampling: str = "systematic", resample_from: float = 0.0, resample_until: float = 1.0,
                 tempering: float = 0.0) -> None:
        check_particles(num_particles, alpha)
        if tempering < 0:
            raise ValueError(f"sampler.tempering={tempering} must be >= 0 (0 = no tempering)")
        self.k, self.alpha, self.tempering = num_particles, alpha, tempering
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
        log_g = self.lam(times[0]) * value(model, reward, x, pred) / self.alpha  # log G_T(x_T), (n*K,)
        log_w, log_z = log_g.view(n, self.k), torch.zeros(n)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = model.propose(pred, s, generator)  # bootstrap: x_s ~ p_pre(. | x_t)
            pred = None if step == steps - 1 else model.predict(x, s)  # x_0 is clean: no prediction
            v = value(model, reward, x, pred)  # v_s = r(x0-hat(x_s)); r(x_0) at the end
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


def check_particles(num_particles: int, alpha: float) -> None:
    """The settings every member of the SMC family shares."""
    if num_particles < 1:
        raise ValueError(f"sampler.num_particles={num_particles} must be >= 1")
    if alpha <= 0:
        raise ValueError(f"sampler.alpha={alpha} must be > 0 (the target is p(x) exp(r(x) / alpha))")


def value(model: DiffusionModel, reward: Reward, x: Tensor, pred: Prediction | None) -> Tensor:
    """r(x0-hat(x)) from x's prediction, or r(x) when x is clean (pred is None): (B,)."""
    return reward(model.decode(x if pred is None else pred.x0))


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
