"""Learned enhancer oracle: a CNN predicting HepG2-specific DNase activity of a 200-bp sequence.

reward = the logit of P(HepG2 | sequence) against the other cell types (GM12878, K562, hESCT0),
trained by scripts/train_dna_oracle.py on real DNase-hypersensitive sites (checkpoints/*/MODEL_CARD.md).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from svdd_cli.checkpoint import load_folder, load_module, resolve_device
from svdd_cli.science.sequence import one_hot


class EnhancerCNN(nn.Module):
    """One-hot DNA (B, 4, L) -> activity logit (B,)."""

    def __init__(self, channels: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(4, channels, 15, padding=7), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(channels, channels, 7, padding=3), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(channels, channels, 5, padding=2), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        return self.head(torch.cat([h.amax(-1), h.mean(-1)], dim=1)).squeeze(-1)


class Enhancer:
    """HepG2 enhancer activity logit from a trained EnhancerCNN checkpoint folder."""

    domains = ("dna",)

    def __init__(self, checkpoint: str | Path, penalty: float = -20.0, device: str = "auto") -> None:
        config, state = load_folder(checkpoint)
        self.device = resolve_device(device)
        self.net = load_module(EnhancerCNN(**config["network"]), state, checkpoint).to(self.device)
        self.alphabet, self.length, self.penalty = config["alphabet"], config["length"], penalty

    def score_probs(self, probs: Tensor) -> Tensor:
        """Differentiable reward of relaxed one-hot sequences (B, L, 4) over `alphabet` (ACGT) -> (B,)."""
        return self.net(probs.transpose(1, 2).to(self.device)).float()

    @torch.inference_mode()
    def __call__(self, samples: list[str]) -> Tensor:
        x, valid = one_hot(samples, self.alphabet)
        valid &= x.shape[-1] == self.length
        out = torch.full((len(samples),), self.penalty)
        if valid.any():
            out[valid] = self.net(x[valid].to(self.device)).float().cpu()
        return out
