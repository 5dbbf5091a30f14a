"""Small molecules as canonical SMILES (decoded by tokens.py): property columns, SDF + image grid output,
MOSES-style metrics."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, Draw

from svdd_cli.core import DiffusionModel, MaskedKernel
from svdd_cli.domains.molecule.tokens import PAD
from svdd_cli.errors import UserError
from svdd_cli.naturalness.headline import Figure
from svdd_cli.naturalness.reference import load_reference, real_fields
from svdd_cli.outputs import GrowingFile
from svdd_cli.science import moses
from svdd_cli.science.chem import mol_from_smiles, mol_properties

PROPERTIES = ("qed", "sa", "logp")  # chem.mol_properties, a column each
# figures compared with real MOSES test subsets of the run's size, and the side a natural set must not cross
RANGED = {"filters": "low", "ring7_fraction": "high", "aromatic_ring_fraction": "low", "weight_mean": "both",
          "sa_mean": "high", "internal_diversity": "low"}
# what tables and the trade-off plot lead with (naturalness.headline)
HEADLINE = (Figure("filters", "filters", "MOSES filter pass rate (real test: 1.00)"),
            Figure("ring7_fraction", "ring>=7", "fraction with a ring of >= 7 atoms (real test: 0.022)"))


def smiles_hashes(smiles: Sequence[str]) -> np.ndarray:
    """32-bit hashes (blake2b) of SMILES strings: (N,) uint32."""
    digests = (hashlib.blake2b(s.encode(), digest_size=4).digest() for s in smiles)
    return np.fromiter((int.from_bytes(d, "little") for d in digests), dtype=np.uint32, count=len(smiles))


def save_smiles_hashes(path: str | Path, smiles: Sequence[str]) -> None:
    """Write the sorted unique hashes of canonical SMILES (a training set's fingerprint for novelty)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.unique(smiles_hashes(smiles)))


def sdf_text(rows: list[dict[str, Any]], before: list[dict[str, Any]]) -> str:
    """SDF records of the valid rows, their columns as tags, numbered on from the valid rows `before` them in the
    file: the text RDKit's SDWriter writes for them in one file."""
    out = []
    for n, row in enumerate((r for r in rows if r["valid"]), 1 + sum(r["valid"] for r in before)):
        mol = mol_from_smiles(row["smiles"])
        mol.SetProp("_Name", row["id"])
        tags = [key for key, value in row.items() if value is not None and key not in ("smiles", "valid")]
        for key in tags:
            mol.SetProp(key, str(row[key]))
        text = Chem.SDWriter.GetText(mol)  # SDWriter's record without its running number "(n)" in the tag lines
        for key in tags:
            text = text.replace(f">  <{key}>  \n", f">  <{key}>  ({n}) \n", 1)
        out.append(text)
    return "".join(out)


def properties(smiles: str) -> dict[str, float | None]:
    """qed, SA score (1 easy .. 10 hard), Crippen logP, molecular weight, heavy atoms; None when invalid."""
    try:
        mol = mol_from_smiles(smiles)
    except ValueError:
        return {"valid": False, **dict.fromkeys([*PROPERTIES, "mol_weight", "heavy_atoms"])}
    return {"valid": True, **mol_properties(mol), "mol_weight": Descriptors.MolWt(mol),
            "heavy_atoms": mol.GetNumHeavyAtoms()}


class MoleculeDomain:
    """Molecules decoded to canonical SMILES (implements core.Domain)."""

    def __init__(self, name: str = "molecule", training_hashes: str | Path | None = None,
                 grid_size: int = 12, reference: str | Path | None = None, fcd_min_samples: int = 256) -> None:
        self.name, self.grid_size, self.fcd_min_samples = name, grid_size, fcd_min_samples
        self.sdf = GrowingFile("samples.sdf", sdf_text)
        self.training: np.ndarray | None = None
        if training_hashes is not None:
            if not Path(training_hashes).is_file():
                raise UserError(f"domain.training_hashes: {training_hashes} not found (written by "
                                "scripts/prepare_molecule.py; set domain.training_hashes=null to skip novelty)")
            self.training = np.load(training_hashes)
        self.reference = None if reference is None else Path(reference)
        if self.reference is not None and not (self.reference / "moses_filters.smarts").is_file():
            raise UserError(f"domain.reference: {reference} has no moses_filters.smarts (the shipped folder is "
                            "checkpoints/molecule_moses; domain.reference=null skips the MOSES metrics)")
        subsets = None if self.reference is None else self.reference / "reference_stats.json"
        self.subsets = load_reference(subsets, "domain.reference")["subsets"] if subsets and subsets.is_file() else None

    def check_model(self, model: DiffusionModel) -> None:
        vocab = model.vocab if isinstance(model, MaskedKernel) else []
        if PAD not in vocab or not all(t.startswith("[") and t.endswith("]") for t in vocab):
            raise UserError(f"the model's tokens {vocab[:6]}... are not SELFIES symbols; domain={self.name} "
                            "needs a SELFIES model (model=molecule)")

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        props = [properties(s) for s in samples]
        return {"smiles": samples, **{k: [p[k] for p in props] for k in props[0]}} if props else {"smiles": []}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        """samples.sdf (every valid sample, its columns as tags; grows by batch) and top_molecules.png (best
        rewards)."""
        self.sdf.write(folder, rows)
        valid = [r for r in rows if r["valid"]]
        top = sorted(valid, key=lambda r: r["reward"], reverse=True)[:self.grid_size]
        if top:
            image = Draw.MolsToGridImage([mol_from_smiles(r["smiles"]) for r in top], molsPerRow=4,
                                         subImgSize=(300, 300), legends=[f"{r['id']}  reward {r['reward']:.3f}"
                                                                         for r in top], returnPNG=False)
            image.save(folder / "top_molecules.png.tmp", format="PNG")
            (folder / "top_molecules.png.tmp").replace(folder / "top_molecules.png")

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """validity, uniqueness (of valid), novelty (unique valid not in the training set), internal diversity
        (MOSES's IntDiv1, moses.internal_diversity), mean qed / SA / logP of valid samples; the HEADLINE."""
        if not rows:
            return {}
        valid = [r["smiles"] for r in rows if r["valid"]]
        unique = sorted(set(valid))
        out = {"validity": len(valid) / len(rows), "uniqueness": len(unique) / len(valid) if valid else math.nan}
        if self.training is not None and unique:
            out["novelty"] = float(np.mean(~np.isin(smiles_hashes(unique), self.training)))
        molecules = moses.mols(valid)  # every SMILES parsed once; the properties are the rows' own columns
        fps = moses.fingerprints(molecules)  # Morgan r=2, 1024 bits: IntDiv and SNN as MOSES computes them
        out["internal_diversity"] = moses.internal_diversity(fps)
        for key in PROPERTIES:
            values = [r[key] for r in rows if r["valid"]]
            out[f"{key}_mean"] = statistics.fmean(values) if values else math.nan
        if self.reference is not None and valid:
            out |= self.moses(valid, molecules, fps)
        if self.subsets is not None and valid:  # real MOSES test subsets of the run's size: "real", "real_range"
            out |= real_fields({k: out[k] for k in RANGED if k in out}, self.subsets, len(valid), RANGED)
        return {**out, "headline": HEADLINE}

    def moses(self, valid: list[str], molecules: list[Chem.Mol], fps: list[Any]) -> dict[str, float]:
        """MOSES metrics of the valid SMILES, their molecules and fingerprints against the shipped MOSES test reference
        (checkpoints/molecule_moses): filters, ring statistics, mean weight, SNN to 2,000 test molecules, and the
        FCD to the whole MOSES test set when there are at least fcd_min_samples valid samples (a smaller sample's
        FCD is dominated by its bias); without the `fcd` extra, a note says so instead."""
        out = moses.cheap_metrics(molecules, self.reference / "moses_filters.smarts")
        out["snn_test2k"] = moses.snn(fps, reference_fingerprints(self.reference))
        if len(valid) >= self.fcd_min_samples:
            try:
                out["fcd_test"] = moses_fcd(self.reference, valid)
            except ImportError as err:  # the optional `fcd` extra is not installed
                out["notes"] = [f"fcd_test not computed: {err.name or 'fcd_torch'} cannot be imported "
                                "(pip install 'svdd[fcd]' adds it)"]
        return out


@cache
def reference_fingerprints(folder: Path) -> list[DataStructs.ExplicitBitVect]:
    """The shipped test fingerprints (Morgan r=2, 1024 bits, packed) as RDKit bit vectors."""
    bits = np.unpackbits(np.load(folder / "test_fingerprints.npy"), axis=1)
    return [DataStructs.CreateFromBitString("".join(map(str, row))) for row in bits]


def moses_fcd(folder: Path, smiles: list[str]) -> float:
    """Frechet ChemNet Distance (fcd-torch, CPU) of `smiles` to the MOSES test set's shipped statistics."""
    from fcd_torch import FCD  # noqa: PLC0415 - loads ChemNet; only runs that reach fcd_min_samples pay for it

    stats = np.load(folder / "fcd_test_stats.npz")
    fcd = FCD(device="cpu", n_jobs=1)
    return float(fcd.metric({"mu": stats["mu"], "sigma": stats["sigma"]}, fcd.precalc(smiles)))

