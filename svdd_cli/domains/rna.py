"""RNA 5'UTR domain: ViennaRNA fold, GC and upstream-AUG columns, FASTA, naturalness against held-out UTRs.

Held-out reference statistics (3-mer spectrum, GC, uAUG rate, MFE of the test split) are read from a
JSON file written by scripts/evaluate_rna_model.py next to the shipped model; without one, the run
reports its own statistics only.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import RNA

from svdd_cli.core import DiffusionModel
from svdd_cli.domains.sequence import SequenceDomain, gc_content
from svdd_cli.errors import UserError

ALPHABET = "ACGU"


def is_rna(seq: str) -> bool:
    """A non-empty string of A, C, G, U only."""
    return bool(seq) and not set(seq) - set(ALPHABET)


def fold(seq: str) -> tuple[str, float]:
    """ViennaRNA minimum free energy structure (dot-bracket) and MFE in kcal/mol (default parameters, 37 C)."""
    structure, mfe = RNA.fold(seq)
    return structure, float(mfe)


def uaug_count(seq: str) -> int:
    """Upstream AUGs: occurrences of AUG (overlapping ones too) in a 5'UTR."""
    return sum(seq.startswith("AUG", i) for i in range(len(seq) - 2))


def kmer_spectrum(seqs: list[str], k: int = 3) -> np.ndarray:
    """Normalised frequencies of the 4^k k-mers over all ACGU sequences, (4^k,) in lexicographic order."""
    index = {"".join(p): i for i, p in enumerate(itertools.product(ALPHABET, repeat=k))}
    counts = np.zeros(len(index))
    for s in seqs:
        for i in range(len(s) - k + 1):
            j = index.get(s[i:i + k])
            if j is not None:
                counts[j] += 1
    return counts / max(counts.sum(), 1)


def kmer_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two k-mer spectra: 0 = identical, 1 = disjoint."""
    return 0.5 * float(np.abs(p - q).sum())


class RNADomain:
    """Fixed-length RNA over ACGU (implements core.Domain); composes SequenceDomain for checks and FASTA."""

    name = "rna"

    def __init__(self, reference: str | Path | None = None) -> None:
        self.sequence = SequenceDomain(self.name, ALPHABET)
        self.reference = self._load(reference) if reference else None

    @staticmethod
    def _load(path: str | Path) -> dict[str, Any]:
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"domain.reference: cannot read held-out statistics {path}: {err} "
                            "(write them with scripts/evaluate_rna_model.py, or set domain.reference=null)") from None

    def check_model(self, model: DiffusionModel) -> None:
        self.sequence.check_model(model)

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        """sequence, mfe (kcal/mol), structure (dot-bracket), gc, uaug_count; NaN/'' for a non-ACGU sample."""
        folds = [fold(s) if is_rna(s) else ("", math.nan) for s in samples]
        return {"sequence": samples, "mfe": [m for _, m in folds], "structure": [s for s, _ in folds],
                "gc": [gc_content(s) for s in samples], "uaug_count": [uaug_count(s) for s in samples]}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        self.sequence.write_native(folder, rows)

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """Means of GC, MFE and uAUG rate, and the 3-mer distance to held-out UTRs (with their values)."""
        if not rows:
            return {}
        seqs = [r["sequence"] for r in rows]
        mfes = [r["mfe"] for r in rows if math.isfinite(r["mfe"])]
        out = {"gc_mean": statistics.fmean(r["gc"] for r in rows),
               "mfe_mean": statistics.fmean(mfes) if mfes else math.nan,
               "uaug_rate": statistics.fmean(r["uaug_count"] > 0 for r in rows)}
        if self.reference is not None:
            spectrum = np.array(self.reference["kmer3_spectrum"])
            out["kmer3_distance_to_heldout"] = kmer_distance(kmer_spectrum(seqs, 3), spectrum)
            out.update({f"heldout_{k}": self.reference[k] for k in ("gc_mean", "mfe_mean", "uaug_rate")})
        return out
