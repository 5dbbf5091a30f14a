"""The real k-mer spectra reward=kmer_natural steers toward, from training data (never the held-out test split
that the naturalness figures judge against).

    python scripts/prepare_dna.py && python scripts/kmer_spectra.py dna   # checkpoints/dna_mdlm/kmer_spectra.json

DNA: the HepG2 training sites of data/dna/train.tsv (training chromosomes only), k = 1, 2, 3: each spectrum is
the mean over sites of the site's k-mer frequencies, as svdd_cli.rewards.kmer_natural scores one sequence. `sets`
holds the same for the HepG2 sites and for the other three cell types' sites together (reward=kmer_set's targets).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from svdd_cli.rewards.kmer_natural import kmer_frequencies, letter_codes

KS = (1, 2, 3)


def spectra(seqs: list[str], alphabet: str) -> dict[str, list[float]]:
    """k -> the mean k-mer frequencies of `seqs` (equal lengths), rounded to 6 digits."""
    codes = letter_codes(seqs, alphabet)
    return {str(k): [round(float(v), 6) for v in kmer_frequencies(codes, k, len(alphabet)).mean(0)] for k in KS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domain", choices=["dna"])
    parser.add_argument("--data", type=Path, default=Path("data/dna"))
    parser.add_argument("--out", type=Path, default=Path("checkpoints/dna_mdlm/kmer_spectra.json"))
    args = parser.parse_args()
    with open(args.data / "train.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    seqs = [r["sequence"] for r in rows if r["cell_type"] == "HepG2"]
    other = [r["sequence"] for r in rows if r["cell_type"] != "HepG2"]
    out = {"source": f"{args.data}/train.tsv: {len(seqs)} HepG2 and {len(other)} other-cell training sites",
           "alphabet": "ACGT", "written_by": "scripts/kmer_spectra.py dna", "spectra": spectra(seqs, "ACGT"),
           "sets": {"hepg2": spectra(seqs, "ACGT"), "other": spectra(other, "ACGT")}}
    args.out.write_text(json.dumps(out) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
