"""Instability reward: minus the instability index of a protein (Guruprasad et al. 1990), via Biopython's ProtParam.

The index sums empirical weights of the sequence's dipeptides (DIWV table) scaled by 10 / length; a protein scoring
below 40 is predicted stable in vitro. reward = -index, so higher is more stable.
"""

from __future__ import annotations

import torch
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from torch import Tensor

from svdd_cli.science.protein import is_protein


class Instability:
    """-instability_index; the penalty for a sequence with non-standard letters."""

    domains = ("protein",)

    def __init__(self, penalty: float = -1000.0) -> None:
        self.penalty = penalty

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([-ProteinAnalysis(s).instability_index() if is_protein(s) else self.penalty
                             for s in samples])
