"""SVDD's step (Li et al. 2024, Algorithm 1), shared by svdd, svdd_r and refine (docs/algorithms.md items 3, 11, 12).

At each step t -> s, every sample draws M candidates x_s^(m) ~ p_pre(. | x_t) (one batch of B*M),
scores v^(m) = r(x0-hat(x_s^(m))) and keeps argmax_m v (alpha = 0) or m ~ softmax(v / alpha).
The kept candidate's prediction is reused at the next step, so a step costs M network evaluations
(the last one, to x_0, none). Optional: K > 1 sampled completions give the soft value
alpha * log mean_k exp(r(x0_k) / alpha); guidance only for steps inside [guide_from, guide_until)
(fractions of the run), plain steps (1 NFE) elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Sampler, Trace, output_rewards, per_output
from svdd_cli.samplers.budget import fit, resized
from svdd_cli.samplers.overlap import predict_and_score
from svdd_cli.samplers.selection import keep
from svdd_cli.samplers.steps import at_least

# after the selection of a step: (kept rows (B,), their values (B,), generator) -> (rows to copy (B,), trace figures)
Regroup = Callable[[Tensor, Tensor, torch.Generator], tuple[Tensor, dict[str, float]]]


class SVDDSteps:
    """The settings of SVDD's selection and the loop that applies it from any state x_t on."""

    def __init__(self, num_candidates: int = 10, alpha: float = 0.0, value_samples: int = 1,
                 guide_from: float = 0.0, guide_until: float = 1.0) -> None:
        at_least("num_candidates", num_candidates, 1)
        at_least("alpha", alpha, 0, "0 = argmax")
        at_least("value_samples", value_samples, 1)
        if value_samples > 1 and alpha == 0:
            raise ValueError("sampler.value_samples > 1 needs sampler.alpha > 0 (the soft value's temperature)")
        if not 0 <= guide_from < guide_until <= 1:
            raise ValueError(f"sampler.guide_from={guide_from}, guide_until={guide_until}: need 0 <= from < until <= 1")
        self.m, self.alpha, self.k = num_candidates, alpha, value_samples
        self.guide_from, self.guide_until = guide_from, guide_until

    def guided(self, step: int, steps: int) -> bool:
        return self.guide_from <= step / steps < self.guide_until

    def nfe(self, steps: int) -> int:
        """NFE per sample from x_T: 1 for x_T, then M per guided step (1 per plain one), none for x_0."""
        return 1 + sum(self.m if self.guided(step, steps) else 1 for step in range(steps - 1))

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many candidates M as the budget allows."""
        return fit(lambda m: resized(self, m=m), nfe_per_sample, steps, "num_candidates")

    def descend(self, model: DiffusionModel, reward: Reward, x: Tensor, pred: Prediction, times: Sequence[float],
                generator: torch.Generator, trace: Trace, regroup: Regroup | None = None) -> Tensor:
        """From x (B, ...) at times[0] with its prediction, SVDD steps through `times` down to x_0 (B, ...);
        `regroup` may reshuffle the kept samples after every guided step (svdd_r)."""
        return self.descend_scored(model, reward, x, pred, times, generator, trace, regroup)[0]

    def descend_scored(self, model: DiffusionModel, reward: Reward, x: Tensor, pred: Prediction,
                       times: Sequence[float], generator: torch.Generator, trace: Trace,
                       regroup: Regroup | None = None) -> tuple[Tensor, Tensor | None]:
        """descend, and r(x_0) (B,) when its last step was guided (the kept candidates' rewards), else None."""
        steps, r = len(times) - 1, None
        for step, (t, s) in enumerate(pairwise(times)):
            final = step == steps - 1
            if not self.guided(step, steps):
                x = model.propose(pred, s, generator)
                pred = None if final else model.predict(x, s)
                trace({"step": step, "t": t})
                continue
            x_s, pred_s, v = self.candidates(model, reward, pred, s, final, generator)
            rows, stats = keep(v, self.alpha, generator)
            if regroup is not None:
                rows, extra = regroup(rows, v.flatten()[rows], generator)
                stats |= extra
            x = x_s[rows.to(x_s.device)]
            pred = None if final else pred_s.take(rows.to(x_s.device))
            r = v.flatten()[rows] if final else None  # the last step's values are the true rewards of x_0
            trace({"step": step, "t": t, **stats})
        return x, r

    def candidates(self, model: DiffusionModel, reward: Reward, pred: Prediction, s: float, final: bool,
                   generator: torch.Generator) -> tuple[Tensor, Prediction | None, Tensor]:
        """M candidates x_s (B*M, ...) per row of pred, their predictions (None at x_0) and values (B, M)."""
        x_s = model.propose(pred.repeat(self.m), s, generator)  # (B*M, ...)
        outputs = per_output(len(pred.x0), len(x_s))  # candidate b*M + m is one for output b
        if final:  # the candidates are clean samples: their true reward
            return x_s, None, output_rewards(reward, model.decode(x_s), outputs).view(-1, self.m)
        if self.k == 1:  # posterior-mean values, a chunk scored while the next goes through the network
            pred_s, v = predict_and_score(model, reward, x_s, s, outputs=outputs)
        else:
            pred_s = model.predict(x_s, s)
            v = self.soft_value(model, reward, pred_s, outputs, generator)
        return x_s, pred_s, v.view(-1, self.m)

    def soft_value(self, model: DiffusionModel, reward: Reward, pred: Prediction, outputs: Tensor,
                   generator: torch.Generator) -> Tensor:
        """(B*M,) soft values alpha * log mean_k exp(r(x0_k) / alpha) over K sampled completions; outputs (B*M,):
        the output each row is a candidate for."""
        draws = torch.cat([model.sample_x0(pred, generator) for _ in range(self.k)])  # (K*B*M, ...)
        r = output_rewards(reward, model.decode(draws), outputs.repeat(self.k)).view(self.k, -1)
        return self.alpha * (torch.logsumexp(r / self.alpha, dim=0) - math.log(self.k))
