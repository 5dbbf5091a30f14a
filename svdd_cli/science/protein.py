"""Proteins: the 20 standard amino acids."""

from __future__ import annotations

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def is_protein(seq: str) -> bool:
    """A non-empty string of the 20 standard amino acids only."""
    return bool(seq) and not set(seq) - set(AMINO_ACIDS)
