"""Particle Gibbs (PG-DLM, 2025; docs/algorithms.md item 15): iterated conditional SMC (Andrieu et al. 2010).

Target pi(x_0) ~ p(x_0) exp(r(x_0) / alpha). One sweep is smc's (bootstrap proposal p_pre, potentials
G_t = exp(v_t / alpha) with v_t = r(x0-hat(x_t)), log w += log G_s(x_s) - log G_t(x_t), so the weights
telescope to exp(r(x_0) / alpha)), with K particles of which, from the second sweep on, particle 0 is clamped
to a reference trajectory x_T^*, ..., x_0^*: at every step its state is the reference's, and when the
particles are resampled (ESS < kappa K) particle 0 keeps ancestor 0 while the other K - 1 draw their
ancestors multinomially from all K weights. At the end of a sweep the new reference is one particle's whole
lineage, drawn by the final weights. This Markov kernel on trajectories leaves the law of the target path
invariant, so the reference after i sweeps converges to pi as i grows, at any K >= 2 (the first sweep is
plain smc, biased O(1/K)). Returns the last reference. Cost: iterations x K x T NFE per output; a budget sets
the iterations at the configured K, then K grows into what is left.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fit_first, resized
from svdd_cli.samplers.particles import check_alpha, predict_value, value
from svdd_cli.samplers.resampling import check_ess_threshold, ess
from svdd_cli.samplers.selection import categorical
from svdd_cli.samplers.steps import at_least


class ParticleGibbs:
    """Iterated conditional SMC with K particles per output; returns the final reference sample."""

    def __init__(self, num_particles: int = 4, iterations: int = 5, alpha: float = 0.1,
                 ess_threshold: float = 0.5) -> None:
        at_least("num_particles", num_particles, 2, "one is the reference")
        at_least("iterations", iterations, 1)
        check_alpha(alpha)
        check_ess_threshold(ess_threshold)
        self.k, self.iterations, self.alpha, self.kappa = num_particles, iterations, alpha, ess_threshold

    def nfe(self, steps: int) -> int:
        return self.iterations * self.k * steps

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many sweeps as the budget allows at K particles (or one sweep of fewer, >= 2, particles), then as many
        particles as those sweeps allow."""
        sweeps = fit_first(nfe_per_sample, steps, (lambda i: resized(self, iterations=i), "iterations"),
                           (lambda k: resized(self, iterations=1, k=k + 1), "num_particles - 1"))
        return resized(sweeps, k=nfe_per_sample // (sweeps.iterations * steps))

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        reference = None
        for i in range(self.iterations):
            reference = self.sweep(model, reward, n, reference, generator,
                                   lambda record, i=i: trace({"iteration": i, **record}))
        return reference[:, -1]

    def sweep(self, model: DiffusionModel, reward: Reward, n: int, reference: Tensor | None,
              generator: torch.Generator, trace: Trace) -> Tensor:
        """One conditional SMC sweep given reference paths (n, T + 1, ...) (None: plain smc) -> new references."""
        k = self.k
        times = list(model.timesteps())
        x = model.init(n * k, generator)  # (n*K, ...)
        steps = len(times) - 1
        clamp = torch.zeros(n, k, dtype=torch.bool)
        if reference is not None:
            clamp[:, 0] = True
        clamp = clamp.flatten().to(x.device)
        if reference is not None:
            x[clamp] = reference[:, 0].to(x.device)  # the reference's own x_T (Gaussian models: not a fresh draw)
        pred = model.predict(x, times[0])
        states, parents = [x], []  # the particles after each step, and the rows they copied at the next one
        log_g = value(model, reward, x, pred, n) / self.alpha
        log_w = log_g.view(n, k)
        for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
            x = model.propose(pred, s, generator)
            if reference is not None:
                x[clamp] = reference[:, step + 1].to(x.device)  # particle 0 follows the reference
            pred, v = predict_value(model, reward, x, s, step == steps - 1, n)
            log_g_s = v / self.alpha
            log_w = log_w + (log_g_s - log_g).view(n, k)
            ess_w = ess(log_w)  # (n,)
            need = ess_w < self.kappa * k
            trace({"step": step, "t": t, "value_mean": (log_g_s * self.alpha).mean().item(),
                   "ess": ess_w.mean().item(), "resampled": int(need.sum())})
            rows = self.ancestors(log_w, need, reference is not None, generator)
            parents.append(rows)
            x, log_g = x[rows.to(x.device)], log_g_s[rows]
            states.append(x)
            log_w = torch.where(need[:, None], 0.0, log_w)
            pred = None if pred is None else pred.take(rows.to(x.device))
        pick = categorical(torch.softmax(log_w, 1), generator) + torch.arange(n) * k
        trace({"step": "final", "ess": ess(log_w).mean().item()})
        return torch.stack(lineage(states, parents, pick), 1)  # (n, T + 1, ...)

    def ancestors(self, log_w: Tensor, need: Tensor, conditional: bool, generator: torch.Generator) -> Tensor:
        """Flat rows (n*K,) each particle copies: multinomial from the weights where `need`, itself elsewhere;
        particle 0 keeps ancestor 0 in a conditional sweep."""
        n, k = log_w.shape
        probs = torch.softmax(log_w, 1).repeat_interleave(k, 0)  # (n*K, K)
        drawn = categorical(probs, generator).view(n, k)
        if conditional:
            drawn[:, 0] = 0
        own = torch.arange(k).expand(n, k)
        return (torch.where(need[:, None], drawn, own) + torch.arange(n)[:, None] * k).flatten()


def lineage(states: list[Tensor], parents: list[Tensor], pick: Tensor) -> list[Tensor]:
    """The path x_T, ..., x_0 of the final particles `pick` (n,), traced back once through the ancestors:
    states[j] (n*K, ...) the particles after step j (x_T first), parents[j] (n*K,) the rows they copied at step j."""
    rows, path = pick, [states[-1][pick.to(states[-1].device)]]
    for state, parent in zip(reversed(states[:-1]), reversed(parents)):
        rows = parent[rows]
        path.append(state[rows.to(state.device)])
    return path[::-1]
