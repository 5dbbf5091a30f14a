"""Biological sequence domains (DNA, RNA): the model check, FASTA output, naturalness against real data."""

from __future__ import annotations

import io
import statistics
from pathlib import Path
from typing import Any, Protocol

from Bio.Seq import Seq
from Bio.SeqIO import write as write_records
from Bio.SeqRecord import SeqRecord

from svdd_cli.core import DiffusionModel, MaskedKernel, Reward
from svdd_cli.errors import UserError
from svdd_cli.outputs import GrowingFile
from svdd_cli.science.sequence import gc_content


class Naturalness(Protocol):
    """A run's naturalness figures against real data, with the real data's values ("real", "real_range")."""

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]: ...


def fasta_text(rows: list[dict[str, Any]]) -> str:
    """FASTA records (Biopython) of rows: id, reward in the description (and the hard constraints a row breaks),
    the sequence."""
    records = [SeqRecord(Seq(r["sequence"]), id=r["id"], description=f"reward={r['reward']:.4f}"
                         + (f" violated={r['violated'].replace(' ', ',')}" if r.get("violated") else ""))
               for r in rows]
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
