"""MOSES's filters as a reward: 1 for a molecule that passes them (no MCF / PAINS match, only C N S O F Cl Br H, no
charge, no ring of >= 8 atoms) and has no ring of >= 7 atoms, else 0. A naturalness term for `reward=composite`:
QED alone rewards large rings and structures that real MOSES molecules (100% pass, 2% with a 7-ring) do not have.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from svdd_cli.errors import UserError
from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.chem import canonical_smiles, mol_from_smiles
from svdd_cli.science.moses import passes_filters, ring_stats


def passes(smiles: str, filters: str) -> float:
    """1.0 when the molecule passes MOSES's filters and has no ring of >= 7 atoms, else 0.0."""
    mol = mol_from_smiles(smiles)
    return float(passes_filters(mol, Path(filters)) and not ring_stats(mol)[0])


class MosesFilters(PooledReward):
    """list of B SMILES -> (B,) in {0, 1}; a SMILES RDKit cannot parse gets `penalty`."""

    domains = ("molecule",)

    def __init__(self, filters: str | Path, penalty: float = 0.0, workers: int = 0) -> None:
        if not Path(filters).is_file():
            raise UserError(f"reward.filters: {filters} not found (a SMARTS file, one pattern a line: "
                            "checkpoints/molecule_moses/moses_filters.smarts ships MOSES's)")
        super().__init__(partial(passes, filters=str(filters)), penalty, workers, key=canonical_smiles)
