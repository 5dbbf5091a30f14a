"""Synthetic accessibility: (10 - SA) / 9 in [0, 1] with RDKit Contrib's sascorer (higher = easier to make)."""

from __future__ import annotations

from torch import Tensor

from svdd_cli.domains.chem import canonical_smiles, normalized_sa
from svdd_cli.rewards.pool import ScorePool


class Sa:
    """Normalised SA score of each SMILES, as in the SVDD paper; unparsable -> `penalty` (counted)."""

    domains = ("molecule",)

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        self.pool = ScorePool(normalized_sa, penalty, workers, key=canonical_smiles)

    def __call__(self, samples: list[str]) -> Tensor:
        return self.pool(samples)

    def stats(self) -> dict[str, float]:
        return self.pool.stats()
