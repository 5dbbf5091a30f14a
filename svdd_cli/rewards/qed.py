"""QED: RDKit's quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 1]."""

from __future__ import annotations

from torch import Tensor

from svdd_cli.domains.chem import canonical_smiles, qed
from svdd_cli.rewards.pool import ScorePool


class Qed:
    """QED of each SMILES; one RDKit cannot parse gets `penalty` (counted in stats())."""

    domains = ("molecule",)

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        self.pool = ScorePool(qed, penalty, workers, key=canonical_smiles)

    def __call__(self, samples: list[str]) -> Tensor:
        return self.pool(samples)

    def stats(self) -> dict[str, float]:
        return self.pool.stats()
