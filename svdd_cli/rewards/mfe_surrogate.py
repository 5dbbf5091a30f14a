"""A fast, differentiable learned stand-in for the ViennaRNA MFE reward (checkpoints/rna_mfe_surrogate).

A small CNN regresses ViennaRNA's MFE (kcal/mol) from a 50-nt one-hot sequence; it was trained by
scripts/train_rna_mfe_surrogate.py. Its reward has the sign convention of `reward=mfe`
(direction=stable: -predicted MFE); configs/reward/mfe_surrogate.yaml reports the real ViennaRNA
reward as the evaluation reward, so over-optimisation of the surrogate shows.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from svdd_cli.rewards.mfe import SIGNS
from svdd_cli.rewards.user_oracle import UserOracle


class MfeCNN(nn.Module):
    """One-hot RNA (B, 4, L) -> predicted MFE (B,) in kcal/mol: dilated residual convolutions, max + mean pool."""

    def __init__(self, channels: int = 64, layers: int = 4, kernel_size: int = 5) -> None:
        super().__init__()
        self.embed = nn.Conv1d(4, channels, kernel_size, padding=kernel_size // 2)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=2 ** i * (kernel_size // 2), dilation=2 ** i)
            for i in range(layers))
        self.head = nn.Sequential(nn.Linear(2 * channels, channels), nn.ReLU(), nn.Linear(channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x)
        for conv in self.convs:
            h = h + conv(nn.functional.relu(h))
        return self.head(torch.cat([h.amax(-1), h.mean(-1)], dim=1)).squeeze(-1)


class MfeSurrogate:
    """Learned MFE as a reward, signed by `direction` (stable | open) like `reward=mfe`."""

    domains = ("rna",)

    def __init__(self, checkpoint: str | Path, direction: str = "stable", penalty: float = -100.0,
                 device: str = "auto") -> None:
        if direction not in SIGNS:
            raise ValueError(f"reward.direction={direction!r} must be one of {', '.join(SIGNS)}")
        self.oracle = UserOracle(checkpoint, scale=SIGNS[direction], penalty=penalty, device=device)
        self.alphabet = self.oracle.alphabet  # the letter order of score_probs

    def score_probs(self, probs: Tensor) -> Tensor:
        """Differentiable reward of relaxed one-hot sequences (B, L, 4) over `alphabet` (ACGU) -> (B,)."""
        return self.oracle.score_probs(probs)

    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) signed predicted MFE, the penalty for a bad sample."""
        return self.oracle(samples)
