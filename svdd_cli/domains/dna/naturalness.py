"""DNA naturalness against real HepG2 DNase sites: 3-mer spectra, GC, repeats, JASPAR motif content, diversity."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from svdd_cli.naturalness.headline import Figure
from svdd_cli.naturalness.reference import compare, load_reference
from svdd_cli.naturalness.warnings import load_quantiles
from svdd_cli.science import sequence as seq
from svdd_cli.science.motifs import MotifScanner, shared_scanner

TARGET_TFS = {"HNF4A": "MA0114.5", "FOXA2": "MA0047.4", "HNF1A": "MA0046.3", "CEBPB": "MA0466.4"}  # liver
CONTROL_TFS = {"CTCF": "MA0139.2", "SP1": "MA0079.5"}  # ubiquitous, GC-rich
# figure -> the side of the real range a natural design set must not cross
RANGED = {"kmer3_r_hepg2": "low", "kmer3_r_other": "low", "homopolymer6_frac": "high", "low_complexity_frac": "high",
          "hamming_diversity": "low", "distinct6_frac": "low"}
# what tables and the trade-off plot lead with (naturalness.headline)
HEADLINE = (Figure("kmer3_r_hepg2", "3-mer r HepG2", "3-mer Pearson r to real HepG2 test sites"),
            Figure("gc_percentile", "GC pct", "median GC: percentile among real HepG2 sites", None),
            Figure("gc_median", "GC median", "median GC content", "real_range"),  # single real sites' p5..p95
            Figure("hamming_diversity", "diversity", "mean pairwise Hamming distance / length"))


def dna_figures(seqs: list[str], spectra: dict[str, np.ndarray], scanner: MotifScanner) -> dict[str, float]:
    """Figures of a set of ACGT sequences: 3-mer Pearson r with each reference spectrum, median GC,
    homopolymer (>= 6) and low-complexity fractions, motif hits per kb, diversity."""
    spectrum = seq.kmer_spectrum(seqs, "ACGT", 3)
    out = {f"kmer3_r_{name}": seq.pearson(spectrum, ref) for name, ref in spectra.items()}
    out.update({"gc_median": statistics.median(seq.gc_content(s) for s in seqs),
                "homopolymer6_frac": seq.homopolymer_fraction(seqs, 6),
                "low_complexity_frac": seq.low_complexity_fraction(seqs),
                "hamming_diversity": seq.hamming_diversity(seqs),
                "distinct6_frac": seq.distinct_kmer_fraction(seqs, 6)})
    out.update({f"motif_{name}_per_kb": v for name, v in scanner.hits_per_kb(seqs).items()})
    return out


class DnaNaturalness:
    """The naturalness block of a DNA run, from a reference file of real HepG2 test sequences, with its HEADLINE."""

    def __init__(self, reference: str | Path, oracles: dict[str, str | Path] | None = None) -> None:
        """reference: scripts/reference_stats.py's file; oracles: samples.csv column -> its oracle's
        real_quantiles.json (passed on to the summary's extrapolation warnings)."""
        self.reference = load_reference(reference, "domain.naturalness.reference")
        self.oracles = load_quantiles(oracles)
        self.spectra = {k: np.array(v) for k, v in self.reference["kmer3"].items()}
        self.scanner = shared_scanner(self.reference["motifs"], self.reference["jaspar_release"],
                                      self.reference["motif_relative_score"])  # the k-mer oracle's: scanned once

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        seqs = [r["sequence"] for r in rows if r["sequence"] and not set(r["sequence"]) - set("ACGT")]
        if not seqs:
            return {}
        out = compare(dna_figures(seqs, self.spectra, self.scanner), self.reference["subsets"], len(seqs), RANGED)
        gc = self.reference["gc_percentiles"]
        out["gc_percentile"] = round(seq.percentile(out["gc_median"], gc), 1)
        out["real"]["gc_percentile"] = 50.0  # of single real sites
        out["real_range"]["gc_median"] = [gc[5], gc[95]]  # of single real sites: the designs' median stays inside
        return {**out, "oracles": self.oracles, "headline": HEADLINE}
