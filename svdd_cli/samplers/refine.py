"""Reward-guided iterative refinement (RERD, Uehara et al., ICML 2025; docs/algorithms.md item 12).

x^(0): a first pass of SVDD (svdd_steps.py, M candidates) or seeds read from `init` (seeds.py: FASTA,
SMILES per line, PNG folder), cycled to the batch. Then for rounds k = 1..K:
  1. resample the population by exp(r(x) / alpha) (systematic; alpha = null keeps every lineage, for editing);
  2. masked models (core.PositionNoise): re-mask m = round(f L) positions of each sample, chosen uniformly, or
     lowest denoiser confidence first (a probe masks 2m random positions, one prediction, and re-masks the m whose
     current token has the lowest log p_theta(x_0 = token | probe)); with `max_edits` only max_edits - d positions
     still equal to the sample's seed may be re-masked (d its Hamming distance to the seed), so d never
     exceeds max_edits. Other models re-noise the whole sample, x_{t*} ~ q(x_{t*} | x_0) (model.noise_to;
     Gaussian models: SDEdit, N(sqrt(abar) x_0, (1 - abar) I));
  3. denoise from the time t* = f (mask rate f) with SVDD steps to x_0 (unmasked positions never change).
Cost per sample: first pass 1 + M (T - 1) (none with seeds), then per round 1 + M (k* - 1) for the k* = round(f T)
steps below t* (+ 1 for the confidence probe). A budget sets M at the configured rounds, then the rounds grow
into what is left.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Encoder, PositionNoise, Prediction, Reward, Sampler, Trace
from svdd_cli.errors import UserError
from svdd_cli.samplers.budget import fit, fit_first, resized
from svdd_cli.samplers.resampling import Resampling
from svdd_cli.samplers.seeds import encode_seeds, read_seeds
from svdd_cli.samplers.steps import at_least, last_steps, round_steps, start
from svdd_cli.samplers.svdd_steps import SVDDSteps


class Refine:
    """Iterated re-mask (re-noise) and SVDD re-denoise of a population; K rounds."""

    def __init__(self, rounds: int = 4, remask_fraction: float = 0.25, lowest_confidence: bool = False,
                 init: str | Path | None = None, max_edits: int | None = None, alpha: float | None = 0.2,
                 num_candidates: int = 10, candidate_alpha: float = 0.0) -> None:
        at_least("rounds", rounds, 1)
        if not 0 < remask_fraction <= 1:
            raise ValueError(f"sampler.remask_fraction={remask_fraction} must be in (0, 1]")
        if max_edits is not None:
            at_least("max_edits", max_edits, 0, "null = no limit")
        if alpha is not None and alpha <= 0:
            raise ValueError(f"sampler.alpha={alpha} must be > 0 (null = no population resampling)")
        self.rounds, self.fraction, self.lowest_confidence = rounds, remask_fraction, lowest_confidence
        self.seeds = None if init is None else read_seeds(init)
        self.max_edits, self.alpha = max_edits, alpha
        self.steps = SVDDSteps(num_candidates, candidate_alpha)
        self.population = Resampling(ess_threshold=1.0)

    def sub_steps(self, steps: int) -> int:
        """Steps from t* down to 0 on a uniform grid of `steps` steps (at least 1)."""
        return round_steps(self.fraction, steps)

    def nfe(self, steps: int) -> int:
        first = 0 if self.seeds is not None else self.steps.nfe(steps)
        return first + self.rounds * (self.steps.nfe(self.sub_steps(steps)) + self.lowest_confidence)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """As many candidates M per step as the budget allows for the first pass and every round (or M = 1 with
        fewer rounds), then as many rounds as those M allow."""
        sized = fit_first(nfe_per_sample, steps,
                          (lambda m: resized(self, steps=resized(self.steps, m=m)), "num_candidates"),
                          (lambda k: resized(self, steps=resized(self.steps, m=1), rounds=k), "rounds"))
        return fit(lambda k: resized(sized, rounds=k), nfe_per_sample, steps, "rounds")

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        positional = isinstance(model, PositionNoise)  # re-noises chosen positions; otherwise the whole sample
        if self.max_edits is not None and not positional:
            raise UserError("sampler.max_edits bounds a Hamming distance: it needs a masked (sequence) model")
        if self.lowest_confidence and not positional:
            raise UserError("sampler.lowest_confidence needs a masked model (Gaussian models re-noise all pixels)")
        times = list(model.timesteps())
        x, scored = self.first(model, reward, n, generator, lambda r: trace({"round": 0, **r}))
        seed = x.clone()
        sub = last_steps(times, self.fraction)  # t* = sub[0] down to 0
        for k in range(1, self.rounds + 1):
            r = reward(model.decode(x)) if scored is None else scored  # the last SVDD step scored x already
            if self.alpha is not None:
                rows = self.population((r / self.alpha).view(1, -1), 0.0, generator).rows.to(x.device)
                x, seed = x[rows], seed[rows]
            x_t = self.remask(model, x, seed, sub[0], generator) if positional else model.noise_to(x, sub[0], generator)
            pred = model.predict(x_t, sub[0])
            x, scored = self.steps.descend_scored(model, reward, x_t, pred, sub, generator,
                                                  lambda rec, k=k: trace({"round": k, **rec}))
            trace({"round": k, "step": "population", "reward_mean": r.mean().item(), "reward_max": r.max().item()})
        return x

    def first(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
              trace: Trace) -> tuple[Tensor, Tensor | None]:
        """x^(0) (n, ...): the seeds cycled to n (rewards None), or a first SVDD pass (with its rewards (n,))."""
        if self.seeds is None:
            times, x, pred = start(model, n, generator)
            return self.steps.descend_scored(model, reward, x, pred, times, generator, trace)
        if not isinstance(model, Encoder):
            raise UserError("sampler.init needs a model that encodes samples back to its states (encode_samples)")
        states = encode_seeds(model, self.seeds).to(model.device)
        return states[torch.arange(n, device=states.device) % len(states)], None

    def remask(self, model: PositionNoise, x: Tensor, seed: Tensor, t: float, generator: torch.Generator) -> Tensor:
        """x (B, L) with round(f L) positions per row returned to noise (fewer when max_edits binds)."""
        b, length = x.shape
        m = max(1, round(self.fraction * length))
        score = torch.rand((b, length), generator=generator, device=generator.device).to(x.device)
        if self.lowest_confidence:  # probe 2m random positions; low confidence = re-masked first
            probe = score <= score.kthvalue(min(2 * m, length), 1, keepdim=True).values
            pred: Prediction = model.predict(model.noise_positions(x, probe), t)
            confidence = model.position_log_probs(pred, x)  # (B, L) log-probs of the tokens
            score = torch.where(probe, confidence, math.inf)
        order = score.argsort(1)  # positions by priority
        eligible = torch.ones_like(x, dtype=torch.bool)
        if self.max_edits is not None:
            same = (x == seed).gather(1, order)  # (B, L) in priority order
            left = (self.max_edits - (x != seed).sum(1, keepdim=True)).clamp_min(0)
            eligible = ~same | (same.cumsum(1) <= left)
        # unprobed positions (+inf) are never re-masked; a token of log-prob -inf is the least confident: first
        ranked = eligible & (eligible.cumsum(1) <= m) & (score.gather(1, order) < math.inf)
        chosen = torch.zeros_like(eligible).scatter(1, order, ranked)
        return model.noise_positions(x, chosen)

