"""Prepare the real molecule data: MOSES SMILES as fixed-length SELFIES token rows.

Source: the `molsets==0.3.1` wheel on PyPI (MIT), fetched with `pip download --no-deps` into
data/molecule/ and read by path (never installed: its pinned dependencies do not build).
Splits: train = a seeded subsample of the 1,584,663 MOSES training SMILES, valid = another
disjoint subsample of them, test = a seeded subsample of the MOSES test set (176,074).
Every SMILES is encoded as SELFIES and padded with `[nop]` (ignored by the SELFIES decoder).

Writes data/molecule/{train,valid,test}.tsv (columns sequence = space-separated SELFIES tokens,
smiles = the MOSES SMILES), data/molecule/vocab.txt (one token per line, `[nop]` included) and
the model's training-set fingerprint checkpoints/molecule_mdlm/train_hashes.npy (for novelty).

    python scripts/prepare_molecule.py [--train 200000 --valid 10000 --test 10000 --seed 0]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import selfies as sf

from svdd_cli.domains.chem import canonical_smiles
from svdd_cli.domains.molecule import PAD, save_smiles_hashes

WHEEL = "molsets==0.3.1"
MEMBERS = {"train": "moses/dataset/data/train.csv.gz", "test": "moses/dataset/data/test.csv.gz"}


def moses_wheel(folder: Path) -> Path:
    """The molsets wheel in `folder`, downloaded (no dependencies) when absent."""
    found = sorted(folder.glob("molsets-0.3.1-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(folder)],
                       check=True)
        found = sorted(folder.glob("molsets-0.3.1-*.whl"))
    return found[0]


def read_moses(wheel: Path, split: str) -> list[str]:
    """The SMILES column of a MOSES split ('train' or 'test'), read from the wheel by path."""
    with zipfile.ZipFile(wheel) as zf:
        text = gzip.decompress(zf.read(MEMBERS[split])).decode()
    return [row["SMILES"] for row in csv.DictReader(io.StringIO(text))]


def write_split(path: Path, tokens: list[list[str]], smiles: list[str], length: int) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["sequence", "smiles"])
        for row, smi in zip(tokens, smiles):
            writer.writerow([" ".join(row + [PAD] * (length - len(row))), smi])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/molecule"))
    p.add_argument("--hashes", type=Path, default=Path("checkpoints/molecule_mdlm/train_hashes.npy"))
    p.add_argument("--train", type=int, default=200_000)
    p.add_argument("--valid", type=int, default=10_000)
    p.add_argument("--test", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wheel = moses_wheel(args.out)
    rng = random.Random(args.seed)
    moses_train = rng.sample(read_moses(wheel, "train"), args.train + args.valid)
    smiles = {"train": moses_train[:args.train], "valid": moses_train[args.train:],
              "test": rng.sample(read_moses(wheel, "test"), args.test)}
    tokens = {k: [list(sf.split_selfies(sf.encoder(s))) for s in v] for k, v in smiles.items()}
    length = max(len(row) for rows in tokens.values() for row in rows)
    vocab = sorted({t for rows in tokens.values() for row in rows for t in row} | {PAD})
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    for name in smiles:
        write_split(args.out / f"{name}.tsv", tokens[name], smiles[name], length)
    save_smiles_hashes(args.hashes, [canonical_smiles(s) for s in smiles["train"]])
    print(f"{len(vocab)} tokens, length {length}; " + ", ".join(f"{k}={len(v)}" for k, v in smiles.items())
          + f" in {args.out}; training-set hashes in {args.hashes}")


if __name__ == "__main__":
    main()
