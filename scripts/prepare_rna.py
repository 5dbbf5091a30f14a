"""Prepare the real RNA data: the 50 nt of human 5'UTR immediately upstream of the start codon.

Source: the `dm3loc==1.2.0` wheel on PyPI (MIT), fetched with `pip download --no-deps` and read by
path (never installed): 17,306 full-length human RefSeq mRNAs, one per gene, without CDS coordinates.
The coding start is inferred as the ATG of the longest ATG..stop open reading frame (>= 300 nt, stop
included) on the forward strand; the 5'UTR is everything before it. UTRs shorter than 50 nt, or with
letters other than ACGT in the window, are dropped, and so are repeats of a window already kept
(35 of them); T -> U. Split by gene: md5(gene id) mod 10 =
0 -> test, 1 -> valid, else train. Writes data/rna/{train,valid,test}.tsv with columns sequence, gene.

    python scripts/prepare_rna.py [--out data/rna]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

WHEEL = "dm3loc==1.2.0"
MEMBER = "DM3Loc/testdata/modified_multilabel_seq_nonredundent.fasta"
STOPS = frozenset({"TAA", "TAG", "TGA"})
WINDOW = 50
MIN_ORF = 300


def read_fasta(text: str) -> Iterator[tuple[str, str]]:
    """(header without '>', upper-case sequence) for every record of a FASTA text."""
    for block in text.split(">")[1:]:
        header, _, body = block.partition("\n")
        yield header.strip(), "".join(body.split()).upper()


def longest_orf_start(seq: str, min_len: int = MIN_ORF) -> int | None:
    """0-based start of the longest ATG..stop ORF (stop included) of >= min_len nt, first one on ties."""
    best_start, best_len = None, min_len - 1
    for frame in range(3):
        start = None
        for i in range(frame, len(seq) - 2, 3):
            codon = seq[i:i + 3]
            if start is None and codon == "ATG":
                start = i
            elif start is not None and codon in STOPS:
                length = i + 3 - start
                if length > best_len or (length == best_len and best_start is not None and start < best_start):
                    best_start, best_len = start, length
                start = None
    return best_start


def utr_window(seq: str, window: int = WINDOW, min_orf: int = MIN_ORF) -> str | None:
    """The `window` nt before the inferred start codon as RNA (T -> U), or None when there is none."""
    start = longest_orf_start(seq, min_orf)
    if start is None or start < window:
        return None
    utr = seq[start - window:start]
    return utr.replace("T", "U") if re.fullmatch("[ACGT]+", utr) else None


def gene_id(header: str) -> str:
    """Gene_ID field of a dm3loc header such as `0100000,ACCNUM:NM_001507,Gene_ID:2862,Gene_Name:MLNR`."""
    fields = dict(part.split(":", 1) for part in header.split(",") if ":" in part)
    return fields.get("Gene_ID", header)


def split_of(gene: str) -> str:
    bucket = int(hashlib.md5(gene.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def cut(text: str, window: int = WINDOW, min_orf: int = MIN_ORF) -> list[tuple[str, str, str]]:
    """(split, sequence, gene) for every record of a FASTA text with a usable 5'UTR window; a window
    seen before (another gene with the same 50 nt) is dropped, so no sequence is in two splits."""
    rows, seen = [], set()
    for header, seq in read_fasta(text):
        utr = utr_window(seq, window, min_orf)
        if utr is not None and utr not in seen:
            seen.add(utr)
            gene = gene_id(header)
            rows.append((split_of(gene), utr, gene))
    return rows


def download_wheel(dest: Path) -> Path:
    """Fetch the wheel (no dependencies) into `dest` and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(dest)], check=True)
    return next(dest.glob("dm3loc-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/rna"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(download_wheel(Path(tmp))) as zf:
            text = zf.read(MEMBER).decode()
    rows = cut(text)
    counts = {}
    for split in ("train", "valid", "test"):
        with open(args.out / f"{split}.tsv", "w", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["sequence", "gene"])
            kept = [(seq, gene) for s, seq, gene in rows if s == split]
            writer.writerows(kept)
            counts[split] = len(kept)
    print(f"{text.count('>')} mRNAs -> {len(rows)} UTR windows of {WINDOW} nt: "
          + ", ".join(f"{k}={v}" for k, v in counts.items()) + f" in {args.out}")


if __name__ == "__main__":
    main()
