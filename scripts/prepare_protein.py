"""Prepare real protein data: 20,000 UniProt sequences, cut to fixed-length windows for the protein prior.

Source: `DB.fasta.gz` of Debian's `mmseqs2-examples` package (the MMseqs2 example database, GPL-3):
20,000 UniProtKB entries (Swiss-Prot `sp|` and TrEMBL `tr|`, all kingdoms and viruses), fetched with
`apt-get download` and read by path from the .deb (never installed). Keeps proteins made only of the
20 standard amino acids and at least `--length` long; one window of `--length` residues per protein,
at a seeded random offset; a seeded 90 / 5 / 5 split by protein. Writes data/protein/{train,valid,test}.tsv
with columns sequence, accession.

    python scripts/prepare_protein.py [--out data/protein] [--length 100]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import subprocess
import tempfile
from pathlib import Path

from Bio import SeqIO

PACKAGE = "mmseqs2-examples"
MEMBER = "usr/share/doc/mmseqs2/example-data/DB.fasta.gz"
AMINO_ACIDS = set("ACDEFGHIKLMNPQRSTVWY")


def read_fasta_from_deb(dest: Path) -> str:
    """`apt-get download` the package into `dest`, unpack it there and return DB.fasta's text."""
    subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=dest, check=True, capture_output=True)
    deb = next(dest.glob(f"{PACKAGE}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest / "x")], check=True)
    return gzip.decompress((dest / "x" / MEMBER).read_bytes()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/protein"))
    parser.add_argument("--length", type=int, default=100, help="residues per window")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text = read_fasta_from_deb(Path(tmp))
    records = list(SeqIO.parse(io.StringIO(text), "fasta"))
    rng = random.Random(args.seed)
    kept = []
    for record in records:
        seq = str(record.seq).upper()
        if len(seq) < args.length or set(seq) - AMINO_ACIDS:
            continue
        start = rng.randrange(len(seq) - args.length + 1)
        kept.append((seq[start:start + args.length], record.id.split("|")[1] if "|" in record.id else record.id))
    rng.shuffle(kept)
    n_hold = len(kept) // 20
    splits = {"valid": kept[:n_hold], "test": kept[n_hold:2 * n_hold], "train": kept[2 * n_hold:]}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with open(args.out / f"{name}.tsv", "w", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["sequence", "accession"])
            writer.writerows(rows)
    print(f"{len(records)} proteins, {len(kept)} kept (standard residues, >= {args.length} aa) -> "
          + ", ".join(f"{k}={len(v)}" for k, v in splits.items()) + f" in {args.out}")


if __name__ == "__main__":
    main()
