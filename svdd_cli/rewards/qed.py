"""Drug-likeness (Bickerton et al. 2012, RDKit QED) in [0, 1]."""

from svdd_cli.rewards.molecular import MolecularScore
from svdd_cli.science.chem import qed


class Qed(MolecularScore):
    score = staticmethod(qed)
