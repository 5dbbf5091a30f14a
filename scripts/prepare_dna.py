"""Prepare the real DNA data: 47,872 human DNase-hypersensitive 200-bp sequences (hg38).

Source: the `dnadiffusion==0.0.0.dev0` wheel on PyPI (MIT), fetched with `pip download --no-deps`
and read by path (never installed). Keeps its chromosome split: training / validation = chr2 /
test = chr1. Writes data/dna/{train,valid,test}.tsv with columns sequence, cell_type, chrom.

    python scripts/prepare_dna.py [--out data/dna]
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "dnadiffusion==0.0.0.dev0"
MEMBER = "dnadiffusion/data/K562_hESCT0_HepG2_GM12878_12k_sequences_per_group.txt"
SPLITS = {"training": "train", "validation": "valid", "test": "test"}


def download_wheel(dest: Path) -> Path:
    """Fetch the wheel (no dependencies) into `dest` and return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(dest)], check=True
    )
    return next(dest.glob("dnadiffusion-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/dna"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            text = zf.read(MEMBER).decode()
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    writers, files = {}, []
    for split, name in SPLITS.items():
        f = open(args.out / f"{name}.tsv", "w", newline="")
        files.append(f)
        writers[split] = csv.writer(f, delimiter="\t")
        writers[split].writerow(["sequence", "cell_type", "chrom"])
    counts = dict.fromkeys(SPLITS, 0)
    for row in rows:
        seq = row["sequence"].upper()
        if len(seq) != 200 or set(seq) - set("ACGT"):
            continue
        writers[row["data_label"]].writerow([seq, row["TAG"].split("_")[0], row["chr"]])
        counts[row["data_label"]] += 1
    for f in files:
        f.close()
    print(f"{len(rows)} rows -> " + ", ".join(f"{SPLITS[k]}={v}" for k, v in counts.items()) + f" in {args.out}")


if __name__ == "__main__":
    main()
