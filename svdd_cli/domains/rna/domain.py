"""RNA 5'UTR domain: ViennaRNA fold, GC and upstream-AUG columns, FASTA, naturalness against held-out UTRs.

The naturalness figures against real test UTR windows (naturalness.py beside this file) come from a reference
file written by scripts/reference_stats.py next to the shipped model; without one, the run reports its own means
only.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from svdd_cli.core import DiffusionModel
from svdd_cli.domains.sequence import Naturalness, SequenceDomain
from svdd_cli.science.rna import ALPHABET, fold, is_rna, uaug_count
from svdd_cli.science.sequence import gc_content


class RNADomain:
    """Fixed-length RNA over ACGU (implements core.Domain); composes SequenceDomain for checks and FASTA."""

    def __init__(self, naturalness: Naturalness | None = None, name: str = "rna") -> None:
        self.name = name
        self.sequence = SequenceDomain(self.name, ALPHABET)
        self.naturalness = naturalness

    def check_model(self, model: DiffusionModel) -> None:
        self.sequence.check_model(model)

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        """sequence, mfe (kcal/mol), structure (dot-bracket), gc, uaug_count; NaN/'' for a non-ACGU sample."""
        folds = [fold(s) if is_rna(s) else ("", math.nan) for s in samples]
        return {"sequence": samples, "mfe": [m for _, m in folds], "structure": [s for s, _ in folds],
                "gc": [gc_content(s) for s in samples], "uaug_count": [uaug_count(s) for s in samples]}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        self.sequence.write_native(folder, rows)

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Means of GC, MFE and uAUG rate, and the naturalness figures against real UTR windows."""
        if not rows:
            return {}
        mfes = [r["mfe"] for r in rows if math.isfinite(r["mfe"])]
        out = {"gc_mean": statistics.fmean(r["gc"] for r in rows),
               "mfe_mean": statistics.fmean(mfes) if mfes else math.nan,
               "uaug_rate": statistics.fmean(r["uaug_count"] > 0 for r in rows)}
        return {**out, **(self.naturalness(rows) if self.naturalness else {})}
