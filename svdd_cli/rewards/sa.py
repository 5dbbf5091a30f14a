"""Synthetic accessibility as (10 - SA) / 9 in [0, 1] (RDKit Contrib sascorer), as in the SVDD paper."""

from svdd_cli.rewards.molecular import MolecularScore
from svdd_cli.science.chem import normalized_sa


class Sa(MolecularScore):
    score = staticmethod(normalized_sa)
