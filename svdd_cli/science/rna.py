"""RNA: the ACGU alphabet, ViennaRNA folding and upstream start codons of 5'UTRs."""

from __future__ import annotations

import RNA

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
