"""Biological sequence domains (DNA, RNA): one-hot encoding, FASTA output, composition metrics."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from Bio.Seq import Seq
from Bio.SeqIO import write as write_records
from Bio.SeqRecord import SeqRecord
from torch import Tensor

from svdd_cli.core import DiffusionModel
from svdd_cli.errors import UserError


def one_hot(sequences: list[str], alphabet: str) -> tuple[Tensor, Tensor]:
    """Strings -> one-hot (B, A, L) float32 and a (B,) bool mask of the rows that were valid.

    A row is valid when every letter is in `alphabet` and it has the batch's longest length;
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


def gc_content(sequence: str) -> float:
    return (sequence.count("G") + sequence.count("C")) / max(len(sequence), 1)


class SequenceDomain:
    """Fixed-length sequences over an alphabet (implements core.Domain)."""

    def __init__(self, name: str, alphabet: str) -> None:
        self.name, self.alphabet = name, alphabet

    def check_model(self, model: DiffusionModel) -> None:
        vocab = getattr(model, "vocab", None)
        if vocab != list(self.alphabet):
            raise UserError(f"the model generates tokens {vocab}, domain={self.name} expects {list(self.alphabet)} "
                            f"(pick the model of this domain: model={self.name})")

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        return {"sequence": samples, "gc": [gc_content(s) for s in samples]}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        """samples.fasta (Biopython), one record per sample with its rewards in the description."""
        records = [SeqRecord(Seq(r["sequence"]), id=r["id"], description=f"reward={r['reward']:.4f}") for r in rows]
        tmp = folder / "samples.fasta.tmp"
        write_records(records, tmp, "fasta")
        tmp.replace(folder / "samples.fasta")

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        return {"gc_mean": statistics.fmean(r["gc"] for r in rows)} if rows else {}
