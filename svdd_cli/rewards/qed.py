"""Drug-likeness (Bickerton et al. 2012, RDKit QED) in [0, 1]."""

from svdd_cli.domains.chem import qed
from svdd_cli.rewards.molecular import MolecularScore


class Qed(MolecularScore):
    score = staticmethod(qed)
