"""Resampling for the SMC family (docs/algorithms.md items 5-7): effective sample size, four ancestor
schemes, and the adaptive, windowed resampling step that smc, fk, nested_is and particle_gibbs share.

Every scheme maps normalised weights (K,) or (B, K) to K ancestor indices per row, each in 0..K-1,
with E[copies of particle i] = K * w_i (Douc & Cappe 2005): multinomial (K iid draws), stratified
(one uniform in each stratum [j/K, (j+1)/K)), systematic (one uniform shared by all strata; the
default, lowest variance in practice), residual (floor(K w_i) copies, multinomial on the rest).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

Scheme = Callable[[Tensor, torch.Generator], Tensor]  # weights (..., K) -> ancestors (..., K)


def ess(log_w: Tensor) -> Tensor:
    """Effective sample size (sum w)^2 / sum w^2 from unnormalised log-weights: (..., K) -> (...)."""
    return torch.exp(2 * torch.logsumexp(log_w, -1) - torch.logsumexp(2 * log_w, -1))


def multinomial(w: Tensor, generator: torch.Generator) -> Tensor:
    """K iid draws from each row of w: (..., K) -> (..., K)."""
    rows = w.reshape(-1, w.shape[-1])
    return _invert(rows, _uniforms(rows.shape, generator, w.device)).view(w.shape)


def stratified(w: Tensor, generator: torch.Generator) -> Tensor:
    """One draw per stratum u_j = (j + U_j) / K, U_j iid: (..., K) -> (..., K)."""
    rows = w.reshape(-1, w.shape[-1])
    k = rows.shape[1]
    u = (torch.arange(k, device=w.device) + _uniforms(rows.shape, generator, w.device)) / k
    return _invert(rows, u).view(w.shape)


def systematic(w: Tensor, generator: torch.Generator) -> Tensor:
    """u_j = (j + U) / K with one U per row: (..., K) -> (..., K) sorted ancestors."""
    rows = w.reshape(-1, w.shape[-1])
    k = rows.shape[1]
    u = (torch.arange(k, device=w.device) + _uniforms((rows.shape[0], 1), generator, w.device)) / k
    return _invert(rows, u).view(w.shape)


def residual(w: Tensor, generator: torch.Generator) -> Tensor:
    """floor(K w_i) copies of each particle, the remaining R draws multinomial on K w - floor(K w)."""
    rows = w.reshape(-1, w.shape[-1]).double()
    b, k = rows.shape
    scaled = k * rows / rows.sum(1, keepdim=True)
    copies = scaled.floor()  # (B, K) deterministic offspring
    left = k - copies.sum(1, keepdim=True)  # (B, 1) draws still to make
    rest = torch.where(left > 0, scaled - copies, rows)  # rows with nothing left draw (and drop) anyway
    draws = _invert(rest, _uniforms((b, k), generator, w.device))  # first `left` of each row are used
    used = (torch.arange(k, device=w.device) < left).double()
    counts = copies.scatter_add(1, draws, used)  # offspring per particle, summing to K
    slots = torch.arange(k, device=w.device, dtype=torch.float64).expand(b, k).contiguous()
    return torch.searchsorted(counts.cumsum(1), slots, right=True).view(w.shape)


def _uniforms(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """U[0, 1) draws in float64 from `generator` on its own device, moved to `device`."""
    return torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64).to(device)


def _invert(w: Tensor, u: Tensor) -> Tensor:
    """Inverse CDF per row: the i with cdf_{i-1} <= u < cdf_i; w (B, K) >= 0, u (B, J) in [0, 1)."""
    cdf = w.double().cumsum(1)
    cdf = cdf / cdf[:, -1:]  # exactly 1 at the end, so zero-weight particles are never picked
    return torch.searchsorted(cdf, u.contiguous(), right=True).clamp_max(w.shape[1] - 1)


def check_ess_threshold(ess_threshold: float) -> None:
    """ValueError unless kappa = ess_threshold is in [0, 1] (resample when ESS < kappa K)."""
    if not 0 <= ess_threshold <= 1:
        raise ValueError(f"sampler.ess_threshold={ess_threshold} must be in [0, 1] (0 = never resample)")


@dataclass(frozen=True)
class Resampled:
    """What one resampling step did to n outputs x K particles."""

    rows: Tensor  # (n*K,) the flat row each new particle copies (its own row where not resampled)
    log_w: Tensor  # (n, K) log-weights after: 0 (uniform) where resampled, carried unchanged elsewhere
    log_z: Tensor  # (n,) log mean weight of the outputs that resampled (0 elsewhere): evidence increment
    resampled: Tensor  # (n,) bool


class Resampling:
    """Adaptive resampling (docs/algorithms.md item 5): an output's K particles are resampled when
    ESS < kappa * K, only at steps with from <= step/steps < until; weights reset to uniform after."""

    def __init__(self, scheme: Scheme = systematic, ess_threshold: float = 0.5, resample_from: float = 0.0,
                 resample_until: float = 1.0) -> None:
        """`scheme`: one of the functions above (configs/sampler/resampling/*.yaml compose them by name)."""
        if not callable(scheme):
            raise ValueError(f"sampler.resampling={scheme!r} is not a resampling function: pick one with "
                             "sampler/resampling=NAME (systematic, multinomial, stratified, residual)")
        check_ess_threshold(ess_threshold)
        if not 0 <= resample_from < resample_until <= 1:
            raise ValueError(f"sampler.resample_from={resample_from}, resample_until={resample_until}: "
                             "need 0 <= from < until <= 1")
        self.scheme, self.kappa = scheme, ess_threshold
        self.start, self.stop = resample_from, resample_until

    def __call__(self, log_w: Tensor, progress: float, generator: torch.Generator) -> Resampled:
        """log_w (n, K) at step/steps = progress -> Resampled; draws nothing when no output resamples."""
        n, k = log_w.shape
        need = (ess(log_w) < self.kappa * k) & (self.start <= progress < self.stop)  # (n,)
        ancestors = torch.arange(k, device=log_w.device).expand(n, k)
        if need.any():
            ancestors = torch.where(need[:, None], self.scheme(torch.softmax(log_w, 1), generator), ancestors)
        log_z = torch.where(need, torch.logsumexp(log_w, 1) - math.log(k), 0.0)
        return Resampled(rows=(ancestors + torch.arange(n, device=log_w.device)[:, None] * k).flatten(),
                         log_w=torch.where(need[:, None], 0.0, log_w), log_z=log_z, resampled=need)
