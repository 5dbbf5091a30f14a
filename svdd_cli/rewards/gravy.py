"""GRAVY reward: the grand average of hydropathy of a protein (Kyte & Doolittle 1982), ProtParam's numbers.

GRAVY = mean over residues of the Kyte-Doolittle hydropathy value (-4.5 R ... +4.5 I); real proteins mostly lie in
-1 .. +0.5, membrane proteins above. reward = direction * GRAVY: direction = 1 steers toward hydrophobic, -1 toward
hydrophilic sequences. Linear in the residues, so it is also a differentiable ProbsReward (for sampler=dps).
"""

from __future__ import annotations

import numpy as np
import torch
from Bio.SeqUtils.ProtParamData import kd
from torch import Tensor

from svdd_cli.errors import UserError
from svdd_cli.science.protein import AMINO_ACIDS, is_protein


class Gravy:
    """direction * GRAVY (Kyte-Doolittle mean hydropathy); the penalty for a sequence with non-standard letters."""

    domains = ("protein",)
    alphabet = AMINO_ACIDS

    def __init__(self, direction: float = 1.0, penalty: float = -10.0) -> None:
        if direction not in (1, -1):
            raise UserError(f"reward.direction={direction} must be 1 (hydrophobic) or -1 (hydrophilic)")
        self.direction, self.penalty = float(direction), penalty
        self.hydropathy = torch.tensor([kd[a] for a in AMINO_ACIDS])  # (20,) in AMINO_ACIDS order
        self.by_byte = np.zeros(256)  # Kyte-Doolittle value of each ASCII code (0 for padding)
        self.by_byte[[ord(a) for a in AMINO_ACIDS]] = [kd[a] for a in AMINO_ACIDS]

    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) direction * GRAVY, one table lookup for the batch; ProtParam's float64 sum, left to right."""
        ok = np.array([is_protein(s) for s in samples], dtype=bool)
        out = np.full(len(samples), self.penalty, dtype=np.float64)
        if ok.any():
            proteins = [s for s, good in zip(samples, ok) if good]
            codes = np.array(proteins, dtype=bytes)  # (N,) zero-padded to the longest
            codes = codes.view(np.uint8).reshape(len(proteins), codes.itemsize)
            total = np.cumsum(self.by_byte[codes], axis=1)[:, -1]  # sequential, as ProtParam's sum()
            out[ok] = self.direction * (total / np.array([len(s) for s in proteins]))
        return torch.from_numpy(out).float()

    def score_probs(self, probs: Tensor) -> Tensor:
        """Expected GRAVY of relaxed one-hot sequences (B, L, 20) in AMINO_ACIDS order -> (B,), differentiable."""
        return self.direction * (probs @ self.hydropathy.to(probs)).mean(-1)
