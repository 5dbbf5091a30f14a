"""Protein domain: fixed-length sequences over the 20 standard amino acids; ProtParam columns, FASTA, naturalness.

Naturalness (summary.json): the log-likelihood under the model (a samples.csv column of every run), the
amino-acid composition distance to a reference set, and the mean pairwise identity of the samples (diversity).
The reference is a JSON file of held-out statistics written by scripts/evaluate_protein_model.py next to the
shipped model; without one, a run reports its own statistics only.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from Bio.SeqUtils.ProtParam import ProteinAnalysis

from svdd_cli.core import DiffusionModel
from svdd_cli.domains.sequence import SequenceDomain
from svdd_cli.errors import UserError
from svdd_cli.naturalness.headline import Figure
from svdd_cli.naturalness.reference import load_reference, real_fields
from svdd_cli.science.protein import AMINO_ACIDS, is_protein
from svdd_cli.science.sequence import hamming_diversity, total_variation

IDENTITY_SAMPLES = 200  # mean pairwise identity over at most this many samples (pairs grow quadratically)
# compared with real held-out sets of the run's size (reference_stats.json beside the reference); higher = less natural
RANGED = {"composition_distance_to_heldout": "high", "mean_pairwise_identity": "high"}
# what tables and the trade-off plot lead with (naturalness.headline)
HEADLINE = (Figure("composition_distance_to_heldout", "composition dist",
                   "amino-acid composition distance to held-out proteins (lower = more natural)"),
            Figure("mean_pairwise_identity", "identity", "mean pairwise identity (lower = more diverse)"))


def properties(seq: str) -> dict[str, float]:
    """ProtParam's GRAVY (Kyte-Doolittle), instability index and net charge at pH 7; NaN for a non-protein."""
    if not is_protein(seq):
        return {"gravy": math.nan, "instability": math.nan, "charge_ph7": math.nan}
    analysis = ProteinAnalysis(seq)
    return {"gravy": analysis.gravy(), "instability": analysis.instability_index(),
            "charge_ph7": analysis.charge_at_pH(7.0)}


def composition(seqs: list[str]) -> np.ndarray:
    """Amino-acid frequencies over all residues of `seqs`, (20,) in AMINO_ACIDS order (other letters ignored)."""
    counts = np.array([sum(s.count(a) for s in seqs) for a in AMINO_ACIDS], dtype=float)
    return counts / max(counts.sum(), 1)


def mean_pairwise_identity(seqs: list[str]) -> float:
    """Mean fraction of identical positions over all pairs of the first IDENTITY_SAMPLES sequences: 1 - their
    Hamming diversity (science.sequence; equal lengths, NaN for fewer than 2 or other lengths)."""
    return 1.0 - hamming_diversity(seqs[:IDENTITY_SAMPLES])


class ProteinDomain:
    """Fixed-length proteins (implements core.Domain); composes SequenceDomain for the model check and FASTA."""

    def __init__(self, name: str = "protein", alphabet: str = AMINO_ACIDS, reference: str | Path | None = None) -> None:
        if sorted(alphabet) != sorted(AMINO_ACIDS):
            raise UserError(f"domain.alphabet={alphabet} must be the 20 amino acids {AMINO_ACIDS} in some order")
        self.name, self.alphabet = name, alphabet
        self.sequence = SequenceDomain(self.name, alphabet)
        self.reference = (load_reference(reference, "domain.reference", "scripts/evaluate_protein_model.py")
                          if reference else None)
        subsets = Path(reference).parent / "reference_stats.json" if reference else None
        self.subsets = load_reference(subsets, "domain.reference")["subsets"] if subsets and subsets.is_file() else None

    def check_model(self, model: DiffusionModel) -> None:
        self.sequence.check_model(model)

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        """sequence, gravy, instability, charge_ph7 (ProtParam; NaN for a sample with other letters)."""
        props = [properties(s) for s in samples]
        return {"sequence": samples, **{k: [p[k] for p in props] for k in ("gravy", "instability", "charge_ph7")}}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        self.sequence.write_native(folder, rows)

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Means of the ProtParam columns, composition distance to the reference, mean pairwise identity; the
        HEADLINE."""
        if not rows:
            return {}
        seqs = [r["sequence"] for r in rows]
        out = {f"{k}_mean": _finite_mean([r[k] for r in rows]) for k in ("gravy", "instability", "charge_ph7")}
        out["mean_pairwise_identity"] = mean_pairwise_identity(seqs)
        if self.reference is not None:
            out["composition_distance_to_heldout"] = total_variation(composition(seqs), self.reference["composition"])
            out.update({f"heldout_{k}": self.reference[k] for k in
                        ("gravy_mean", "instability_mean", "charge_ph7_mean", "mean_pairwise_identity")})
        if self.subsets is not None and "composition_distance_to_heldout" in out:  # real held-out sets of this size
            out |= real_fields({k: out[k] for k in RANGED}, self.subsets, len(seqs), RANGED)
        return {**out, "headline": HEADLINE}


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan
