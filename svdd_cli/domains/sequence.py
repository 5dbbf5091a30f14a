"""Biological sequence domains (DNA, RNA): one-hot encoding, FASTA output, naturalness against real data."""

from __future__ import annotations

import io
import statistics
from pathlib import Path
from typing import Any, Protocol

import torch
from Bio.Seq import Seq
from Bio.SeqIO import write as write_records
from Bio.SeqRecord import SeqRecord
from torch import Tensor

from svdd_cli.core import DiffusionModel, MaskedKernel, Reward
from svdd_cli.errors import UserError
from svdd_cli.naturalness.sequence import gc_content
from svdd_cli.outputs import GrowingFile


class Naturalness(Protocol):
    """A run's naturalness figures against real data, with the real data's values ("real", "real_range")."""

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]: ...


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


def fasta_text(rows: list[dict[str, Any]]) -> str:
    """FASTA records (Biopython) of rows: id, reward in the description, the sequence."""
    records = [SeqRecord(Seq(r["sequence"]), id=r["id"], description=f"reward={r['reward']:.4f}") for r in rows]
    text = io.StringIO()
    write_records(records, text, "fasta")
    return text.getvalue()


class SequenceDomain:
    """Fixed-length sequences over an alphabet (implements core.Domain)."""

    def __init__(self, name: str, alphabet: str, naturalness: Naturalness | None = None,
                 evaluations: dict[str, Reward] | None = None) -> None:
        """naturalness: figures against real data for the summary; evaluations: name -> an oracle reported as the
        samples.csv column evaluation_<name> (never guides)."""
        self.name, self.alphabet, self.naturalness = name, alphabet, naturalness
        self.evaluations = evaluations or {}
        self.fasta = GrowingFile("samples.fasta", lambda rows, _: fasta_text(rows))

    def check_model(self, model: DiffusionModel) -> None:
        vocab = model.vocab if isinstance(model, MaskedKernel) else None
        if vocab != list(self.alphabet):
            raise UserError(f"the model generates tokens {vocab}, domain={self.name} expects {list(self.alphabet)} "
                            f"(pick the model of this domain: model={self.name})")

    def columns(self, ids: list[str], samples: list[str], folder: Path) -> dict[str, list[Any]]:
        return {"sequence": samples, "gc": [gc_content(s) for s in samples],
                **{f"evaluation_{name}": oracle(samples).tolist() for name, oracle in self.evaluations.items()}}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        """samples.fasta (Biopython), one record per sample with its reward in the description; grows by batch."""
        self.fasta.write(folder, rows)

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean GC, and the naturalness figures against real data when the domain has a reference."""
        if not rows:
            return {}
        natural = self.naturalness(rows) if self.naturalness else {}
        return {"gc_mean": statistics.fmean(r["gc"] for r in rows), **natural}
