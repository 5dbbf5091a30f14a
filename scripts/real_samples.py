"""Real held-out samples of a domain, drawn beside a run's designs where a figure needs samples rather than
statistics (pareto.png and summary.json's `real_hypervolume`: the real samples scored by the front's terms).

    python scripts/prepare_dna.py && python scripts/real_samples.py dna        # checkpoints/real_samples/dna.txt
    python scripts/prepare_rna.py && python scripts/real_samples.py rna
    python scripts/prepare_protein.py && python scripts/real_samples.py protein
    python scripts/real_samples.py molecule                                    # MOSES's test split (molsets wheel)

256 samples a domain, one a line, drawn with seed 0 from the test split only (never training data): DNA's HepG2
test sites, RNA's 5'UTR test windows, the protein test windows, MOSES's test SMILES.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from pathlib import Path

from svdd_cli.science.moses import moses_wheel, read_moses

COUNT = 256


def test_split(domain: str, data: Path) -> list[str]:
    """Every test sample of a domain."""
    if domain == "molecule":
        with tempfile.TemporaryDirectory() as folder:
            return read_moses(moses_wheel(Path(folder)), "test")
    with open(data / "test.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["sequence"] for r in rows if domain != "dna" or r["cell_type"] == "HepG2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domain", choices=["dna", "rna", "protein", "molecule"])
    parser.add_argument("--data", type=Path, help="default data/<domain> (not for molecule)")
    parser.add_argument("--out", type=Path, help="default checkpoints/real_samples/<domain>.txt")
    args = parser.parse_args()
    samples = test_split(args.domain, args.data or Path("data") / args.domain)
    drawn = random.Random(0).sample(samples, min(COUNT, len(samples)))
    out = args.out or Path("checkpoints/real_samples") / f"{args.domain}.txt"
    out.write_text("".join(f"{s}\n" for s in drawn))
    print(f"wrote {len(drawn)} of {len(samples)} real test samples to {out}")


if __name__ == "__main__":
    main()
