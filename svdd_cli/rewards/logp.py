"""Penalised logP: Crippen logP - SA score - large-ring penalty (GCPN / MolDQN form, unnormalised).

Scored per canonical SMILES through the shared process pool + cache (rewards/pool.py); a SMILES RDKit cannot parse
gets `penalty` and is counted in stats().
"""

from __future__ import annotations

from svdd_cli.domains.chem import canonical_smiles, penalized_logp
from svdd_cli.rewards.pool import PooledReward


class Logp(PooledReward):
    """Penalised logP of SMILES strings: list of B SMILES -> (B,)."""

    domains = ("molecule",)

    def __init__(self, penalty: float = -20.0, workers: int = 0) -> None:
        super().__init__(penalized_logp, penalty, workers, key=canonical_smiles)
