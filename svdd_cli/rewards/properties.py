"""RDKit properties of molecules as rewards: QED, normalised SA and penalised logP.

Each is scored per canonical SMILES in a ScorePool (worker processes + a cache, since the x0-hat of many
candidates repeat); a SMILES RDKit cannot parse gets `penalty` and is counted in stats().
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from svdd_cli.domains.chem import canonical_smiles, normalized_sa, penalized_logp, qed
from svdd_cli.rewards.pool import ScorePool


class MoleculeProperty:
    """A per-molecule RDKit score of SMILES strings: list of B SMILES -> (B,)."""

    domains = ("molecule",)

    def __init__(self, score: Callable[[str], float], penalty: float, workers: int) -> None:
        self.pool = ScorePool(score, penalty, workers, key=canonical_smiles)

    def __call__(self, samples: list[str]) -> Tensor:
        return self.pool(samples)

    def stats(self) -> dict[str, float]:
        return self.pool.stats()


class Qed(MoleculeProperty):
    """Drug-likeness (Bickerton et al. 2012) in [0, 1]."""

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        super().__init__(qed, penalty, workers)


class Sa(MoleculeProperty):
    """Synthetic accessibility as (10 - SA) / 9 in [0, 1] (RDKit Contrib sascorer), as in the SVDD paper."""

    def __init__(self, penalty: float = 0.0, workers: int = 0) -> None:
        super().__init__(normalized_sa, penalty, workers)


class Logp(MoleculeProperty):
    """Penalised logP: Crippen logP - SA score - large-ring penalty (GCPN / MolDQN form, unnormalised)."""

    def __init__(self, penalty: float = -20.0, workers: int = 0) -> None:
        super().__init__(penalized_logp, penalty, workers)
