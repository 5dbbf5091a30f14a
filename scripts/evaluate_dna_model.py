"""Compare the shipped DNA model's samples with real held-out sequences (for its MODEL_CARD).

    python scripts/evaluate_dna_model.py [--samples 256] [--steps 50]

Prints a markdown table: GC content, 4-mer spectrum distance to the chr1 test set (and, as a
yardstick, of real training sequences to it), and both enhancer oracles' median logit.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import Counter
from itertools import product

import torch

from svdd_cli.assets import asset_root
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.rewards.enhancer import Enhancer
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.science.sequence import gc_content

KMERS = ["".join(p) for p in product("ACGT", repeat=4)]


def spectrum(sequences: list[str]) -> torch.Tensor:
    """Normalised 4-mer frequencies over all sequences: (256,)."""
    counts = Counter(s[i:i + 4] for s in sequences for i in range(len(s) - 3))
    v = torch.tensor([counts[k] for k in KMERS], dtype=torch.float64)
    return v / v.sum()


def read(split: str) -> list[str]:
    with open(f"data/dna/{split}.tsv") as f:
        return [r["sequence"] for r in csv.DictReader(f, delimiter="\t")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    ckpt = asset_root() / "checkpoints"
    model = MaskedDiffusion.from_checkpoint(ckpt / "dna_mdlm", num_steps=args.steps, device="cpu")
    x = Ancestral().sample(model, None, args.samples, torch.Generator().manual_seed(0), lambda r: None)
    generated = model.decode(x)
    test = read("test")
    train = random.Random(0).sample(read("train"), args.samples)
    oracles = {name: Enhancer(ckpt / name, device="cpu") for name in ("dna_enhancer_oracle", "dna_enhancer_heldout")}
    test_spectrum = spectrum(test)
    print("| sequences | n | GC | 4-mer L1 distance to test | guidance oracle median | held-out oracle median |")
    print("|---|---|---|---|---|---|")
    for name, seqs in (("model samples", generated), ("real train (random)", train), ("real test (chr1)", test)):
        gc = sum(map(gc_content, seqs)) / len(seqs)
        dist = (spectrum(seqs) - test_spectrum).abs().sum().item()
        med = [o(seqs).median().item() for o in oracles.values()]
        print(f"| {name} | {len(seqs)} | {gc:.3f} | {dist:.3f} | {med[0]:.2f} | {med[1]:.2f} |")


if __name__ == "__main__":
    main()
