"""RDKit molecular properties shared by the molecule domain and its rewards (top-level, picklable).

Each function takes a SMILES string and raises ValueError when RDKit cannot parse it, so that
ScorePool turns the failure into a penalty.
"""

from __future__ import annotations

import os
import sys
from functools import cache, lru_cache
from types import ModuleType

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import QED, Crippen, RDConfig, rdFingerprintGenerator

RDLogger.DisableLog("rdApp.*")  # unparsable samples are expected (penalised), not worth a log line each


def mol_from_smiles(smiles: str) -> Chem.Mol:
    """The RDKit molecule of a SMILES; ValueError when it does not parse or has no atoms."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValueError(f"not a valid molecule: {smiles!r}")
    return mol


@lru_cache(maxsize=1 << 17)  # a search meets the same molecules again and again
def canonical_smiles(smiles: str) -> str:
    """RDKit canonical SMILES; '' when it does not parse."""
    try:
        return Chem.MolToSmiles(mol_from_smiles(smiles))
    except ValueError:
        return ""


@cache
def sascorer() -> ModuleType:
    """RDKit Contrib's SA scorer (Ertl & Schuffenhauer 2009), shipped inside the rdkit wheel."""
    sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer as module  # noqa: PLC0415 - lives outside the rdkit package, on the path set above

    return module


def qed(smiles: str) -> float:
    """Quantitative estimate of drug-likeness in [0, 1] (RDKit QED, Bickerton et al. 2012)."""
    return QED.qed(mol_from_smiles(smiles))


def sa_score(smiles: str) -> float:
    """Synthetic accessibility score, 1 (easy) .. 10 (hard)."""
    return sascorer().calculateScore(mol_from_smiles(smiles))


def mol_properties(mol: Chem.Mol) -> dict[str, float]:
    """qed, SA score and Crippen logP of a parsed molecule (what qed, sa_score and logp give, parsing nothing)."""
    return {"qed": QED.qed(mol), "sa": sascorer().calculateScore(mol), "logp": Crippen.MolLogP(mol)}


def largest_ring(mol: Chem.Mol) -> int:
    """Atoms in the molecule's largest ring (RDKit's smallest set of smallest rings); 0 without rings."""
    return max((len(r) for r in mol.GetRingInfo().AtomRings()), default=0)


def normalized_sa(smiles: str) -> float:
    """(10 - SA) / 9 in [0, 1], higher = easier to make (the SVDD paper's form)."""
    return (10.0 - sa_score(smiles)) / 9.0


def logp(smiles: str) -> float:
    """Crippen logP (RDKit)."""
    return Crippen.MolLogP(mol_from_smiles(smiles))


def penalized_logp(smiles: str) -> float:
    """logP - SA - max(0, largest ring size - 6) (unnormalised form of GCPN / MolDQN)."""
    mol = mol_from_smiles(smiles)
    cycle = max(0, largest_ring(mol) - 6)
    return Crippen.MolLogP(mol) - sascorer().calculateScore(mol) - cycle


def morgan_counts(smiles: list[str], radius: int = 2, bits: int = 2048) -> np.ndarray:
    """Morgan (ECFP-like) count fingerprints (B, bits) float32 of SMILES, the PMO oracles' similarity features; a
    SMILES that does not parse gets zeros."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(smiles), bits), dtype=np.float32)
    for i, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text) if text else None
        if mol is not None:
            out[i] = generator.GetCountFingerprintAsNumPy(mol)
    return out
