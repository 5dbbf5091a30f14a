"""What the per-molecule RDKit rewards (qed, sa, logp) share: a score of one SMILES, pooled and cached by canonical
SMILES (rewards/pool.py); a SMILES RDKit cannot parse gets `penalty` and is counted in stats()."""

from __future__ import annotations

from collections.abc import Callable

from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.chem import canonical_smiles


class MolecularScore(PooledReward):
    """A subclass sets `score` (SMILES -> float, picklable: a staticmethod, or an attribute set before
    __init__); list of B SMILES -> (B,)."""

    domains = ("molecule",)
    score: Callable[[str], float]

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        super().__init__(self.score, penalty, workers, key=canonical_smiles)
