"""RNA 5'UTR naturalness against real test windows: 3-mer distance, GC, uAUG, Kozak -3 purine, MFE, diversity."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from svdd_cli.naturalness.headline import Figure
from svdd_cli.naturalness.reference import compare, load_reference
from svdd_cli.naturalness.warnings import load_quantiles
from svdd_cli.science import sequence as seq

# figure -> the side of the real range a natural design set must not cross
RANGED = {"kmer3_distance": "high", "gc_mean": "both", "uaug_rate": "both", "kozak_purine_rate": "both",
          "mfe_percentile": "both", "hamming_diversity": "low", "distinct6_frac": "low"}
# what tables and the trade-off plot lead with (naturalness.headline)
HEADLINE = (Figure("kmer3_distance", "3-mer dist", "3-mer distance to real test UTRs (lower = more natural)"),
            Figure("mfe_percentile", "MFE pct", "median MFE: percentile among real UTR windows"),
            Figure("kozak_purine_rate", "Kozak -3 AG", "fraction with a purine 3 nt before the start codon"),
            Figure("hamming_diversity", "diversity", "mean pairwise Hamming distance / length"))


def rna_figures(seqs: list[str], mfes: list[float], spectrum: np.ndarray,
                mfe_percentiles: list[float]) -> dict[str, float]:
    """Figures of a set of ACGU 5'UTRs (the start codon follows the last letter) with their MFEs (kcal/mol)."""
    finite = [m for m in mfes if math.isfinite(m)]
    median = statistics.median(finite) if finite else math.nan
    return {"kmer3_distance": seq.total_variation(seq.kmer_spectrum(seqs, "ACGU", 3), spectrum),
            "gc_mean": statistics.fmean(seq.gc_content(s) for s in seqs),
            "uaug_rate": statistics.fmean("AUG" in s for s in seqs),
            "kozak_purine_rate": statistics.fmean(len(s) >= 3 and s[-3] in "AG" for s in seqs),
            "mfe_median": median,
            "mfe_percentile": seq.percentile(median, mfe_percentiles) if finite else math.nan,
            "more_stable_than_real": statistics.fmean(m < mfe_percentiles[0] for m in finite) if finite else math.nan,
            "hamming_diversity": seq.hamming_diversity(seqs),
            "distinct6_frac": seq.distinct_kmer_fraction(seqs, 6)}


class RnaNaturalness:
    """The naturalness block of an RNA run, from a reference file of real test 5'UTR windows, with its HEADLINE."""

    def __init__(self, reference: str | Path, oracles: dict[str, str | Path] | None = None) -> None:
        """reference: scripts/reference_stats.py's file; oracles: samples.csv column -> its oracle's
        real_quantiles.json (passed on to the summary's extrapolation warnings)."""
        self.reference = load_reference(reference, "domain.naturalness.reference")
        self.oracles = load_quantiles(oracles)
        self.spectrum = np.array(self.reference["kmer3"])

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [r for r in rows if r["sequence"] and not set(r["sequence"]) - set("ACGU")]
        if not rows:
            return {}
        figures = rna_figures([r["sequence"] for r in rows], [r["mfe"] for r in rows], self.spectrum,
                              self.reference["mfe_percentiles"])
        out = compare(figures, self.reference["subsets"], len(rows), RANGED)
        out["real"]["mfe_min"] = self.reference["mfe_percentiles"][0]
        return {**out, "oracles": self.oracles, "headline": HEADLINE}
