"""GRAVY reward: the grand average of hydropathy of a protein (Kyte & Doolittle 1982), via Biopython's ProtParam.

GRAVY = mean over residues of the Kyte-Doolittle hydropathy value (-4.5 R ... +4.5 I); real proteins mostly lie in
-1 .. +0.5, membrane proteins above. reward = direction * GRAVY: direction = 1 steers toward hydrophobic, -1 toward
hydrophilic sequences. Linear in the residues, so it is also a differentiable ProbsReward (for sampler=dps).
"""

from __future__ import annotations

import torch
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from Bio.SeqUtils.ProtParamData import kd
from torch import Tensor

from svdd_cli.domains.protein import AMINO_ACIDS, is_protein
from svdd_cli.errors import UserError


class Gravy:
    """direction * GRAVY (Kyte-Doolittle mean hydropathy); the penalty for a sequence with non-standard letters."""

    domains = ("protein",)
    alphabet = AMINO_ACIDS

    def __init__(self, direction: float = 1.0, penalty: float = -10.0) -> None:
        if direction not in (1, -1):
            raise UserError(f"reward.direction={direction} must be 1 (hydrophobic) or -1 (hydrophilic)")
        self.direction, self.penalty = float(direction), penalty
        self.hydropathy = torch.tensor([kd[a] for a in AMINO_ACIDS])  # (20,) in AMINO_ACIDS order

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([self.direction * ProteinAnalysis(s).gravy() if is_protein(s) else self.penalty
                             for s in samples])

    def score_probs(self, probs: Tensor) -> Tensor:
        """Expected GRAVY of relaxed one-hot sequences (B, L, 20) in AMINO_ACIDS order -> (B,), differentiable."""
        return self.direction * (probs @ self.hydropathy.to(probs)).mean(-1)
