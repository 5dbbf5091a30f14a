"""The two naturalness figures each domain's tables and trade-off plots lead with (scripts/frontier.py,
scripts/tradeoff.py): a key of summary.json's naturalness block, a column title and an axis title."""

from __future__ import annotations

from typing import NamedTuple


class Figure(NamedTuple):
    key: str
    column: str
    axis: str


HEADLINE: dict[str, tuple[Figure, Figure]] = {
    "dna": (Figure("kmer3_r_hepg2", "3-mer r", "3-mer Pearson r to real HepG2 test sites"),
            Figure("gc_percentile", "GC pct", "median GC: percentile among real HepG2 sites")),
    "rna": (Figure("kmer3_distance", "3-mer dist", "3-mer distance to real test UTRs (lower = more natural)"),
            Figure("mfe_percentile", "MFE pct", "median MFE: percentile among real UTR windows")),
    "molecule": (Figure("filters", "filters", "MOSES filter pass rate (real test: 1.00)"),
                 Figure("ring7_fraction", "ring>=7", "fraction with a ring of >= 7 atoms (real test: 0.022)")),
    "protein": (Figure("composition_distance_to_heldout", "composition dist",
                       "amino-acid composition distance to held-out proteins (lower = more natural)"),
                Figure("mean_pairwise_identity", "identity", "mean pairwise identity (lower = more diverse)")),
    "image": (Figure("frechet_distance", "FD", "Frechet distance to the test set (lower = more natural)"),
              Figure("classifier_confidence_mean", "confidence", "mean classifier confidence (real test: ~0.9)")),
}
