"""Net-charge reward: closeness of a protein's net charge at a pH to a target, via Biopython's ProtParam.

ProtParam's charge_at_pH sums the Henderson-Hasselbalch charges of the ionisable side chains and termini (its pK
set); reward = -|charge(pH) - target| (0 = exactly on target), e.g. target = -5 for a soluble, acidic design.
"""

from __future__ import annotations

import torch
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from torch import Tensor

from svdd_cli.science.protein import is_protein


class Charge:
    """-|net charge at `ph` - `target`|; the penalty for a sequence with non-standard letters."""

    domains = ("protein",)

    def __init__(self, target: float = 0.0, ph: float = 7.0, penalty: float = -1000.0) -> None:
        self.target, self.ph, self.penalty = target, ph, penalty

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([-abs(ProteinAnalysis(s).charge_at_pH(self.ph) - self.target) if is_protein(s)
                             else self.penalty for s in samples])
