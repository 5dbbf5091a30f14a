"""The real k-mer spectra reward=kmer_natural steers toward, from training data (never the held-out test split
that the naturalness figures judge against).

    python scripts/prepare_dna.py && python scripts/kmer_spectra.py dna          # checkpoints/dna_mdlm/
    python scripts/prepare_rna.py && python scripts/kmer_spectra.py rna          # checkpoints/rna_mdlm/
    python scripts/prepare_protein.py && python scripts/kmer_spectra.py protein  # checkpoints/protein_mdlm/

Each spectrum is the mean over training sequences of a sequence's k-mer frequencies, as
svdd_cli.rewards.kmer_natural scores one sequence: k = 1, 2, 3 over ACGT (the HepG2 sites of data/dna/train.tsv)
and ACGU (the 50-nt 5'UTR windows of data/rna/train.tsv); k = 1, 2 over the 20 amino acids (the 100-residue
windows of data/protein/train.tsv: 98 3-mers of 8,000 would say little of one sequence). `sets` holds the real
sets reward=kmer_set pulls toward: DNA's HepG2 sites and the other three cell types' sites together; elsewhere the
training set.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from svdd_cli.rewards.kmer_natural import kmer_frequencies, letter_codes
from svdd_cli.science.protein import AMINO_ACIDS

# domain -> (alphabet, k-mer lengths, checkpoint folder)
DOMAINS = {"dna": ("ACGT", (1, 2, 3), "dna_mdlm"), "rna": ("ACGU", (1, 2, 3), "rna_mdlm"),
           "protein": (AMINO_ACIDS, (1, 2), "protein_mdlm")}


def spectra(seqs: list[str], alphabet: str, ks: tuple[int, ...]) -> dict[str, list[float]]:
    """k -> the mean k-mer frequencies of `seqs` (equal lengths), rounded to 6 digits."""
    codes = letter_codes(seqs, alphabet)
    return {str(k): [round(float(v), 6) for v in kmer_frequencies(codes, k, len(alphabet)).mean(0)] for k in ks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domain", choices=sorted(DOMAINS))
    parser.add_argument("--data", type=Path, help="default data/<domain>")
    parser.add_argument("--out", type=Path, help="default checkpoints/<domain>_mdlm/kmer_spectra.json")
    args = parser.parse_args()
    alphabet, ks, folder = DOMAINS[args.domain]
    data = args.data or Path("data") / args.domain
    out = args.out or Path("checkpoints") / folder / "kmer_spectra.json"
    with open(data / "train.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    written = {"alphabet": alphabet, "written_by": f"scripts/kmer_spectra.py {args.domain}"}
    if args.domain == "dna":
        seqs = [r["sequence"] for r in rows if r["cell_type"] == "HepG2"]
        other = [r["sequence"] for r in rows if r["cell_type"] != "HepG2"]
        written = {"source": f"{data}/train.tsv: {len(seqs)} HepG2 and {len(other)} other-cell training sites",
                   **written, "spectra": spectra(seqs, alphabet, ks),
                   "sets": {"hepg2": spectra(seqs, alphabet, ks), "other": spectra(other, alphabet, ks)}}
    else:
        seqs = [r["sequence"] for r in rows]
        written = {"source": f"{data}/train.tsv: {len(seqs)} training sequences", **written,
                   "spectra": spectra(seqs, alphabet, ks), "sets": {"train": spectra(seqs, alphabet, ks)}}
    out.write_text(json.dumps(written) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
