"""An online surrogate of a paid oracle (docs/algorithms.md item 17): Gaussian-process regression with the
Tanimoto kernel, fitted on the samples the oracle has scored so far, so that a sampler can make many cheap
candidates and pay the oracle for the most promising ones only (sampler=evolve's `screen`).

Features are non-negative vectors of a decoded sample: `features` (e.g. Morgan counts of a molecule:
svdd_cli.science.chem.morgan_counts), or else, for samples that are strings (sequences, SMILES), the counts of
their substrings of length 1 to 3 hashed into 2,048 bins. The kernel is the Tanimoto similarity
a.b / (|a|^2 + |b|^2 - a.b) (1 for equal vectors, positive definite on non-negative vectors); scores are
standardised, the GP's signal variance is 1 and `noise` its noise variance. A candidate's value is the posterior
mean + beta x posterior sd (an upper confidence bound), in the oracle's units.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from svdd_cli.compose import plain
from svdd_cli.errors import UserError

Features = Callable[[list[Any]], np.ndarray]  # decoded samples -> (B, D) non-negative features


class TanimotoGP:
    """GP regression with the Tanimoto kernel over at most 2 x `kept` scored samples (the best and the latest)."""

    def __init__(self, features: Features | None = None, kept: int = 1000, noise: float = 0.1,
                 beta: float = 1.0) -> None:
        if kept < 1:
            raise ValueError(f"sampler.surrogate.kept={kept} must be >= 1 (scored samples the GP is fitted on)")
        if noise <= 0:
            raise ValueError(f"sampler.surrogate.noise={noise} must be > 0 (the GP's noise variance)")
        self.features, self.kept, self.noise, self.beta = plain(features), kept, noise, beta

    def featurize(self, samples: list[Any]) -> Tensor:
        """(B, D) float32 features of decoded samples: `features`, or else the k-mer counts of string samples."""
        if self.features is not None:
            return torch.as_tensor(np.asarray(self.features(samples)), dtype=torch.float32)
        if not all(isinstance(s, str) for s in samples):
            raise UserError("sampler.surrogate needs `features` for samples that are not strings: set "
                            "sampler.surrogate.features to a function of the decoded samples")
        return torch.as_tensor(kmer_counts(samples), dtype=torch.float32)

    def value(self, train: Tensor, scores: Tensor, candidates: Tensor) -> Tensor:
        """Upper confidence bound (C,) of candidates (C, D) from the scored train (N, D) with scores (N,); NaN
        scores (refused calls) are left out. O(N^3 + C N D) for N <= 2 kept."""
        ok = scores.isfinite()
        train, scores = train[ok], scores[ok].double()
        if len(scores) < 2:
            return torch.zeros(len(candidates), dtype=torch.float64)
        best = scores.argsort(descending=True)[:self.kept]
        rows = torch.unique(torch.cat([best, torch.arange(max(0, len(scores) - self.kept), len(scores))]))
        train, scores = train[rows], scores[rows]
        mean, scale = scores.mean(), scores.std().clamp_min(1e-9)
        k = tanimoto(train, train) + self.noise * torch.eye(len(train), dtype=torch.float64)
        chol = torch.linalg.cholesky(k)
        alpha = torch.cholesky_solve(((scores - mean) / scale).unsqueeze(1), chol)
        cross = tanimoto(candidates, train)  # (C, N)
        v = torch.linalg.solve_triangular(chol, cross.T, upper=False)  # (N, C)
        variance = (1 - v.square().sum(0)).clamp_min(0)
        return mean + scale * ((cross @ alpha).squeeze(1) + self.beta * variance.sqrt())


def tanimoto(a: Tensor, b: Tensor) -> Tensor:
    """Tanimoto similarity (A, B) float64 of non-negative rows a (A, D), b (B, D); two all-zero rows count as equal.
    The products are taken in the rows' dtype (float32 features: exact for counts, twice as fast), the rest in
    float64."""
    dot = (a @ b.T).double()
    union = a.double().square().sum(1, keepdim=True) + b.double().square().sum(1) - dot
    return torch.where(union > 0, dot / union.clamp_min(1e-12), 1.0)


def kmer_counts(texts: list[str], k: int = 3, bins: int = 2048) -> np.ndarray:
    """Counts (B, bins) float32 of each text's substrings of length 1..k, hashed (CRC-32: the same in every run)."""
    out = np.zeros((len(texts), bins), dtype=np.float32)
    for i, text in enumerate(texts):
        for size in range(1, k + 1):
            for start in range(len(text) - size + 1):
                out[i, zlib.crc32(text[start:start + size].encode()) % bins] += 1
    return out
