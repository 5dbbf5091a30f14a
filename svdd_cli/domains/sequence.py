"""Biological sequence domains (DNA, RNA): encoding, native files and naturalness metrics."""

from __future__ import annotations

from pathlib import Path

import torch
from Bio.Seq import Seq
from Bio.SeqIO import write as write_records
from Bio.SeqRecord import SeqRecord
from torch import Tensor


def one_hot(sequences: list[str], alphabet: str) -> tuple[Tensor, Tensor]:
    """Strings -> one-hot (B, A, L) float32 and a (B,) bool mask of the rows that were valid.

    A row is valid when every letter is in `alphabet` and all rows share the first valid length;
    invalid rows are all-zero."""
    lookup = torch.full((256,), -1, dtype=torch.long)
    lookup[list(alphabet.encode())] = torch.arange(len(alphabet))
    length = max((len(s) for s in sequences), default=0)
    raw = torch.zeros(len(sequences), length, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in sequences])
    for i, s in enumerate(sequences):
        raw[i, : len(s)] = torch.tensor(list(s.encode()), dtype=torch.long)
    index = lookup[raw]
    valid = (index >= 0).all(1) & (lengths == length)
    index[~valid] = 0
    x = torch.nn.functional.one_hot(index, len(alphabet)).float().transpose(1, 2)
    x[~valid] = 0.0
    return x, valid


class SequenceDomain:
    """Fixed-length sequences over an alphabet: writes FASTA, scores GC content."""

    def __init__(self, name: str, alphabet: str) -> None:
        self.name, self.alphabet = name, alphabet

    def write_native(self, folder: Path, ids: list[str], samples: list[str], rewards: list[float]) -> None:
        """samples.fasta (Biopython), one record per sample with its reward in the description."""
        records = [SeqRecord(Seq(s), id=i, description=f"reward={r:.4f}") for i, s, r in zip(ids, samples, rewards)]
        tmp = folder / "samples.fasta.tmp"
        write_records(records, tmp, "fasta")
        tmp.replace(folder / "samples.fasta")

    def properties(self, samples: list[str]) -> dict[str, list[float]]:
        """Per-sample descriptive columns for samples.csv."""
        return {"gc": [(s.count("G") + s.count("C")) / max(len(s), 1) for s in samples]}
