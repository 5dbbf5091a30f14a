"""SVDD-R (the SVDD paper's later version; docs/algorithms.md item 11): SVDD with batch resampling.

Every step t -> s is an SVDD step for each of the n samples of a batch (svdd_steps.py: M candidates
x_s^(m) ~ p_pre(. | x_t), v^(m) = r(x0-hat(x_s^(m))), one kept by argmax or softmax(v / candidate_alpha)); then
the batch's n kept samples, one particle system, are resampled with probabilities
    P(copy i) = exp(v_i / alpha) / sum_j exp(v_j / alpha),   v_i the value of kept sample i,
by a resampling scheme (systematic by default), only when the ESS of those weights is below kappa * n
(kappa = 1: every step). All n resampled samples are returned. The last step's values are r(x_0), so the
last resampling copies high-reward samples: rewards rise and diversity falls (measure both).
Same cost as svdd: 1 + M (T - 1) NFE per sample; a budget sets M.
"""

from __future__ import annotations

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Trace
from svdd_cli.samplers.resampling import Resampling, Scheme, ess, systematic
from svdd_cli.samplers.steps import start
from svdd_cli.samplers.svdd_steps import SVDDSteps


class SVDDR(SVDDSteps):
    """SVDD steps, each followed by resampling the batch by exp(value / alpha); M candidates per sample."""

    def __init__(self, num_candidates: int = 10, alpha: float = 0.1, candidate_alpha: float = 0.0,
                 ess_threshold: float = 1.0, resampling: Scheme = systematic, value_samples: int = 1,
                 guide_from: float = 0.0, guide_until: float = 1.0) -> None:
        super().__init__(num_candidates, candidate_alpha, value_samples, guide_from, guide_until)
        if alpha <= 0:
            raise ValueError(f"sampler.alpha={alpha} must be > 0 (the batch is resampled by exp(value / alpha); "
                             "alpha -> 0 copies the best sample, use sampler=svdd for no resampling)")
        self.resample_alpha = alpha
        self.resampling = Resampling(resampling, ess_threshold)

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times, x, pred = start(model, n, generator)
        return self.descend(model, reward, x, pred, times, generator, trace, self.regroup)

    def regroup(self, rows: Tensor, v: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Kept rows (n,) with values v (n,) -> rows resampled over the batch by exp(v / alpha)."""
        log_w = (v / self.resample_alpha).view(1, -1)
        res = self.resampling(log_w, 0.0, generator)
        return rows[res.rows], {"batch_ess": ess(log_w).item(), "resampled": int(res.resampled.sum()),
                                "resampled_mean": v[res.rows].mean().item()}
