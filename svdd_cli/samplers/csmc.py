"""Metropolis-Hastings over clean samples (docs/algorithms.md item 18; the idea of arXiv 2602.09424): n chains, each
a clean sample moved by the pre-trained model's own re-noise + re-denoise kernel, for oracles paid per call (the
oracle sees clean samples only).

Target pi(x) ~ p_pre(x) exp(r(x) / alpha). Each chain starts as one ancestral sample, scored once. Each iteration
proposes, for every chain, x' = the prior's steps from t* = remask_fraction down to 0 applied to noise_to(x, t*)
(masked models: round(f L) positions re-masked; Gaussian models: SDEdit), all k* = round(f T) of them or
`denoise_steps` of them; the oracle scores x', and the chain moves to it with probability
min(1, exp((r(x') - r(x)) / alpha)). With an exact denoiser the proposal K(x, x') = sum_{x_t} q(x_t | x) p(x' | x_t)
is reversible with respect to p_pre (p_pre(x) K(x, x') = sum_{x_t} p(x_t) q(x | x_t) q(x' | x_t) is symmetric in x,
x'), so this acceptance leaves pi invariant and the chains' law tends to pi as the iterations grow. Returns each
chain's last state or, with `keep_best`, the best state it visited, which is also the best sample it had scored (a
proposal is only rejected when it scores below the chain's state). It stops after `iterations`, or once the oracle
budget is spent (core.Metered).
Cost per output: T + iterations x k NFE, k = denoise_steps or k*; oracle calls: at most 1 + iterations, repeats free.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Metered, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.particles import check_alpha
from svdd_cli.samplers.steps import at_least, generator_on_cpu, last_steps, redenoise_steps, rollout, thinned


class CSMC:
    """n Metropolis-Hastings chains over clean samples, proposals re-noised to t* and re-denoised by the prior."""

    def __init__(self, iterations: int = 20, alpha: float = 0.1, remask_fraction: float = 0.25,
                 denoise_steps: int | None = None, keep_best: bool = True) -> None:
        at_least("iterations", iterations, 0)
        check_alpha(alpha)
        if not 0 < remask_fraction <= 1:
            raise ValueError(f"sampler.remask_fraction={remask_fraction} must be in (0, 1]")
        if denoise_steps is not None:
            at_least("denoise_steps", denoise_steps, 1, "null: the prior's own steps below t*")
        self.iterations, self.alpha, self.fraction = iterations, alpha, remask_fraction
        self.denoise_steps, self.keep_best = denoise_steps, keep_best

    def nfe(self, steps: int) -> int:
        return steps + self.iterations * redenoise_steps(self.fraction, steps, self.denoise_steps)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many iterations as the budget allows after the first ancestral pass."""
        return fit(lambda i: resized(self, iterations=i - 1), nfe_per_sample, steps, "iterations + 1")

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        coins = generator_on_cpu(generator)  # the acceptance draws
        x = rollout(model, model.init(n, generator), generator, lambda r: trace({"round": 0, **r}))
        r = reward(model.decode(x))
        best, best_r = x, r
        steps = list(model.timesteps())
        k = redenoise_steps(self.fraction, len(steps) - 1, self.denoise_steps)
        times = thinned(last_steps(steps, self.fraction), k)
        for i in range(1, self.iterations + 1):
            if isinstance(reward, Metered) and reward.calls_left() == 0:
                break
            proposed = rollout(model, model.noise_to(x, times[0], generator), generator, lambda r: None, times)
            r_proposed = reward(model.decode(proposed))
            accept = torch.rand(n, generator=coins).log() < (r_proposed - r) / self.alpha
            x, r = where(accept, proposed, x), torch.where(accept, r_proposed, r)
            better = r > best_r
            best, best_r = where(better, x, best), torch.where(better, r, best_r)
            trace({"round": i, "step": "population", "reward_mean": r.mean().item(), "reward_max": r.max().item(),
                   "kept_mean": (best_r if self.keep_best else r).mean().item(),
                   "accepted": accept.float().mean().item()})
        return best if self.keep_best else x


def where(rows: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """a's rows where rows (B,) is true, b's elsewhere: (B, ...)."""
    return torch.where(rows.to(a.device).view(-1, *[1] * (a.dim() - 1)), a, b)
