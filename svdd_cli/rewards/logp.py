"""Penalised logP: Crippen logP - SA score - large-ring penalty (GCPN / MolDQN form, unnormalised)."""

from svdd_cli.rewards.molecular import MolecularScore
from svdd_cli.science.chem import penalized_logp


class Logp(MolecularScore):
    score = staticmethod(penalized_logp)

    def __init__(self, penalty: float = -20.0, workers: int = 0) -> None:  # 0 would be a mid-range logP
        super().__init__(penalty, workers)
