"""Seed designs for refine, read from a file: FASTA (.fa/.fasta/.fna) for DNA/RNA, one sample per line otherwise
(SMILES for molecules, plain sequences), or a folder of PNG images. Each seed keeps its line number, so a seed
the model cannot encode is reported as `file:line: why`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from svdd_cli.core import Encoder
from svdd_cli.errors import UserError

FASTA = (".fa", ".fasta", ".fna")


def read_seeds(path: str | Path) -> list[tuple[str, Any]]:
    """(where, sample) pairs from a file or PNG folder; UserError for a missing, empty or malformed one."""
    path = Path(path).expanduser()
    if path.is_dir():
        return [(str(p), png(p)) for p in sorted(path.glob("*.png"))] or _empty(path)
    if not path.is_file():
        raise UserError(f"sampler.init={path} not found (a FASTA file, one SMILES per line, or a folder of PNGs)")
    lines = path.read_text().splitlines()
    seeds = fasta(path, lines) if path.suffix.lower() in FASTA else [
        (f"{path}:{i}", line.strip()) for i, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")]
    return seeds or _empty(path)


def fasta(path: Path, lines: list[str]) -> list[tuple[str, str]]:
    """FASTA records: (path:line of the header, joined sequence lines, upper case)."""
    records: list[tuple[str, list[str]]] = []
    for i, line in enumerate(lines, 1):
        line = line.strip()
        if line.startswith(">"):
            records.append((f"{path}:{i}", []))
        elif line:
            if not records:
                raise UserError(f"{path}:{i}: sequence before the first '>' header: not a FASTA file")
            records[-1][1].append(line.upper())
    return [(where, "".join(parts)) for where, parts in records]


def png(path: Path) -> Tensor:
    """A PNG -> image (C, H, W) in [0, 1] (grey images keep one channel)."""
    try:
        array = np.asarray(Image.open(path), dtype=np.float32) / 255.0
    except OSError as err:
        raise UserError(f"{path}: not a readable PNG ({err})") from None
    return torch.from_numpy(array[None] if array.ndim == 2 else array.transpose(2, 0, 1)[:3].copy())


def encode_seeds(model: Encoder, seeds: list[tuple[str, Any]]) -> Tensor:
    """The model's states (S, ...) of the seeds; a seed it cannot encode is a UserError naming its file and line."""
    rows = []
    for where, sample in seeds:
        try:
            rows.append(model.encode_samples([sample]))
        except ValueError as err:
            raise UserError(f"{where}: {err}") from None
    return torch.cat(rows)


def _empty(path: Path) -> list[tuple[str, Any]]:
    raise UserError(f"sampler.init={path} holds no seeds")
