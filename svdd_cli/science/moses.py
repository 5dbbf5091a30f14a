"""MOSES benchmark metrics (Polykovskiy et al. 2020, molecularsets/moses metrics.py), written on RDKit + fcd-torch.

Every function takes SMILES (generated: '' or unparsable = invalid) and, where it compares, reference
statistics from `reference_stats` (a real set, e.g. MOSES test molecules):
validity, unique@k, novelty, FCD, SNN (mean nearest-neighbour Tanimoto, Morgan r=2 1024 bits), Frag
(cosine of BRICS fragment counts), Scaf (cosine of Bemis-Murcko scaffold counts), IntDiv (1 - mean
pairwise Tanimoto, self-pairs included, as MOSES), the MOSES filters (MCF + PAINS SMARTS, allowed atoms,
no charges, no ring >= 8), plus ring statistics (a ring of >= 7 atoms, an aromatic ring) and property means.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import statistics
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem, Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from svdd_cli.science.chem import mol_properties

ALLOWED_ATOMS = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}
WHEEL = "molsets==0.3.1"  # MOSES's data and statistics, read by path (never installed: its pins do not build)


def moses_wheel(folder: Path) -> Path:
    """The molsets wheel in `folder`, downloaded there from PyPI (no dependencies) when absent."""
    found = sorted(folder.glob("molsets-0.3.1-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(folder)],
                       check=True)
        found = sorted(folder.glob("molsets-0.3.1-*.whl"))
    return found[0]


def read_moses(wheel: Path, split: str) -> list[str]:
    """The SMILES column of a MOSES split ('train' or 'test'), read from the molsets wheel by path."""
    with zipfile.ZipFile(wheel) as zf:
        text = gzip.decompress(zf.read(f"moses/dataset/data/{split}.csv.gz")).decode()
    return [row["SMILES"] for row in csv.DictReader(io.StringIO(text))]


def mols(smiles: Iterable[str]) -> list[Chem.Mol]:
    """RDKit molecules of the valid SMILES (invalid ones dropped)."""
    out = (Chem.MolFromSmiles(s) if s else None for s in smiles)
    return [m for m in out if m is not None and m.GetNumAtoms() > 0]


def validity(smiles: Sequence[str]) -> float:
    return len(mols(smiles)) / len(smiles) if smiles else math.nan


def unique_at(smiles: Sequence[str], k: int) -> float:
    """Fraction of distinct canonical SMILES among the valid ones of the first k samples."""
    canon = [Chem.MolToSmiles(m) for m in mols(smiles[:k])]
    return len(set(canon)) / len(canon) if canon else math.nan


def fingerprints(molecules: Sequence[Chem.Mol], bits: int = 1024) -> list[DataStructs.ExplicitBitVect]:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=bits)
    return [generator.GetFingerprint(m) for m in molecules]


def snn(gen_fps: Sequence[Any], ref_fps: Sequence[Any]) -> float:
    """Mean over generated molecules of the Tanimoto similarity to the nearest reference molecule."""
    return statistics.fmean(max(DataStructs.BulkTanimotoSimilarity(fp, ref_fps)) for fp in gen_fps)


def internal_diversity(fps: Sequence[Any]) -> float:
    """MOSES IntDiv1, the one internal diversity of this tool: 1 - the mean Tanimoto similarity of the fingerprints
    (`fingerprints`: Morgan radius 2, 1024 bits) over all n^2 ordered pairs, self-pairs included (n identical
    molecules give 0, n distinct ones at most 1 - 1/n); nan for no molecules."""
    if not fps:
        return math.nan
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fp, fps)) for fp in fps)
    return 1.0 - total / len(fps) ** 2


def fragments(molecules: Iterable[Chem.Mol]) -> Counter:
    """Counts of BRICS fragments (SMILES) over the molecules."""
    counts: Counter = Counter()
    for m in molecules:
        counts.update(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(m)).split("."))
    return counts


def scaffolds(molecules: Iterable[Chem.Mol], min_rings: int = 2) -> Counter:
    """Counts of Bemis-Murcko scaffolds (SMILES) with at least `min_rings` rings, as MOSES counts them."""
    found = (MurckoScaffold.GetScaffoldForMol(m) for m in molecules)
    return Counter(Chem.MolToSmiles(s) for s in found if s.GetRingInfo().NumRings() >= min_rings)


def recanonical(counts: Counter) -> Counter:
    """Counts keyed by SMILES, re-canonicalised by this RDKit (MOSES's shipped statistics are of an older one)."""
    out: Counter = Counter()
    for smiles, n in counts.items():
        mol = Chem.MolFromSmiles(smiles)
        out[Chem.MolToSmiles(mol) if mol is not None else smiles] += n
    return out


def cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors; nan when either is empty."""
    if not a or not b:
        return math.nan
    keys = sorted(set(a) | set(b))
    x, y = np.array([a[k] for k in keys], float), np.array([b[k] for k in keys], float)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@cache
def filter_patterns(path: Path) -> tuple[Chem.Mol, ...]:
    """The SMARTS of a filters file (one a line, '#' comments): checkpoints/molecule_moses/moses_filters.smarts
    holds MOSES's mcf.csv + wehi_pains.csv (molsets 0.3.1, MIT)."""
    lines = Path(path).read_text().splitlines()
    return tuple(Chem.MolFromSmarts(s) for s in lines if s and not s.startswith("#"))


def passes_filters(mol: Chem.Mol, filters: Path) -> bool:
    """MOSES's mol_passes_filters: no ring of >= 8 atoms, no charge, only C N S O F Cl Br H, no MCF/PAINS match."""
    if any(len(r) >= 8 for r in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in ALLOWED_ATOMS for a in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    return not any(with_h.HasSubstructMatch(p) for p in filter_patterns(Path(filters)))


def ring_stats(mol: Chem.Mol) -> tuple[bool, bool]:
    """(has a ring of >= 7 atoms, has an aromatic ring)."""
    rings = mol.GetRingInfo().AtomRings()
    aromatic = any(all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in r) for r in rings)
    return any(len(r) >= 7 for r in rings), aromatic


def cheap_metrics(molecules: Sequence[Chem.Mol], filters: Path) -> dict[str, float]:
    """Filters, ring statistics and mean weight of valid molecules (no reference needed)."""
    if not molecules:
        return {}
    rings = [ring_stats(m) for m in molecules]
    return {"filters": statistics.fmean(passes_filters(m, filters) for m in molecules),
            "ring7_fraction": statistics.fmean(r[0] for r in rings),
            "aromatic_ring_fraction": statistics.fmean(r[1] for r in rings),
            "weight_mean": statistics.fmean(Descriptors.MolWt(m) for m in molecules)}


def property_means(molecules: Sequence[Chem.Mol]) -> dict[str, float]:
    """Mean qed, SA score and logP of valid molecules (chem.mol_properties, each molecule once)."""
    if not molecules:
        return {}
    props = [mol_properties(m) for m in molecules]
    return {f"{k}_mean": statistics.fmean(p[k] for p in props) for k in props[0]}


def reference_stats(smiles: Sequence[str], fcd: Any | None = None) -> dict[str, Any]:
    """What the comparisons need of a reference set: fingerprints, fragment and scaffold counts, and the
    ChemNet statistics when an fcd_torch.FCD is given."""
    molecules = mols(smiles)
    out = {"fps": fingerprints(molecules), "frag": fragments(molecules), "scaf": scaffolds(molecules)}
    if fcd is not None:
        out["fcd"] = fcd.precalc([Chem.MolToSmiles(m) for m in molecules])
    return out


def moses_metrics(smiles: Sequence[str], ref: dict[str, Any], filters: Path, fcd: Any | None = None,
                  training: np.ndarray | None = None, hashes: Any = None) -> dict[str, float]:
    """The MOSES table for generated SMILES against reference statistics `ref` (reference_stats), with
    novelty when the training set's SMILES hashes (and the hashing function) are given."""
    molecules = mols(smiles)
    canon = [Chem.MolToSmiles(m) for m in molecules]
    fps = fingerprints(molecules)
    out = {"samples": len(smiles), "valid": len(molecules) / len(smiles), "unique@1k": unique_at(smiles, 1000),
           "unique@10k": unique_at(smiles, 10_000)}
    if fcd is not None and "fcd" in ref:
        out["fcd"] = float(fcd.metric(ref["fcd"], fcd.precalc(canon)))
    if ref["fps"]:
        out["snn"] = snn(fps, ref["fps"])
    out |= {"frag": cosine(fragments(molecules), ref["frag"]), "scaf": cosine(scaffolds(molecules), ref["scaf"]),
            "intdiv": internal_diversity(fps)}
    if training is not None and hashes is not None:
        unique = sorted(set(canon))
        out["novelty"] = float(np.mean(~np.isin(hashes(unique), training)))
    return out | cheap_metrics(molecules, filters) | property_means(molecules)
