"""Penalised logP: Crippen logP - SA score - large-ring penalty (GCPN / MolDQN form, unnormalised)."""

from __future__ import annotations

from torch import Tensor

from svdd_cli.domains.chem import canonical_smiles, penalized_logp
from svdd_cli.rewards.pool import ScorePool


class Logp:
    """Penalised logP of each SMILES; unparsable -> `penalty` (counted in stats())."""

    domains = ("molecule",)

    def __init__(self, penalty: float = -20.0, workers: int = 0) -> None:
        self.pool = ScorePool(penalized_logp, penalty, workers, key=canonical_smiles)

    def __call__(self, samples: list[str]) -> Tensor:
        return self.pool(samples)

    def stats(self) -> dict[str, float]:
        return self.pool.stats()
