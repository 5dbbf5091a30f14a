"""Drug-likeness (Bickerton et al. 2012) in [0, 1] (RDKit QED).

Scored per canonical SMILES through the shared process pool + cache (rewards/pool.py); a SMILES RDKit cannot parse
gets `penalty` and is counted in stats().
"""

from __future__ import annotations

from svdd_cli.domains.chem import canonical_smiles, qed
from svdd_cli.rewards.pool import PooledReward


class Qed(PooledReward):
    """Drug-likeness of SMILES strings: list of B SMILES -> (B,)."""

    domains = ("molecule",)

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        super().__init__(qed, penalty, workers, key=canonical_smiles)
