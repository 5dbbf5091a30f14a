"""Compare samples of the RNA masked diffusion model with held-out human 5'UTRs.

    python scripts/evaluate_rna_model.py [--model checkpoints/rna_mdlm] [--data data/rna] [--samples 1000]

Statistics per set (model samples, test UTRs, training UTRs, and i.i.d. letters with the test set's
composition as a floor): GC, uAUG rate (>= 1 AUG), mean uAUG count, purine at -3, 3-mer spectrum
distance to the test UTRs (total variation), ViennaRNA MFE mean / sd / quartiles and the
Kolmogorov-Smirnov distance of the MFE distribution to the test UTRs'. Writes <model>/evaluation.json.
(The domain's reference of real test windows is scripts/reference_stats.py rna's reference_stats.json.)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.samplers.ancestral import rollout
from svdd_cli.science.rna import ALPHABET, fold, uaug_count
from svdd_cli.science.sequence import gc_content, kmer_spectrum, total_variation


def read(path: Path) -> list[str]:
    with open(path) as f:
        return [row["sequence"] for row in csv.DictReader(f, delimiter="\t")]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    grid = np.concatenate([a, b])
    cdf = [np.searchsorted(np.sort(x), grid, side="right") / len(x) for x in (a, b)]
    return float(np.abs(cdf[0] - cdf[1]).max())


def statistics(seqs: list[str], reference: list[str], reference_mfe: np.ndarray) -> dict[str, Any]:
    mfe = np.array([fold(s)[1] for s in seqs])
    return {"n": len(seqs), "gc_mean": float(np.mean([gc_content(s) for s in seqs])),
            "uaug_rate": float(np.mean([uaug_count(s) > 0 for s in seqs])),
            "uaug_mean": float(np.mean([uaug_count(s) for s in seqs])),
            "purine_minus3": float(np.mean([s[-3] in "AG" for s in seqs])),
            "kmer3_distance": total_variation(kmer_spectrum(seqs, ALPHABET, 3), kmer_spectrum(reference, ALPHABET, 3)),
            "mfe_mean": float(mfe.mean()), "mfe_sd": float(mfe.std()),
            "mfe_quartiles": [float(q) for q in np.quantile(mfe, [0.25, 0.5, 0.75])],
            "mfe_ks": ks_distance(mfe, reference_mfe)}


def sample(model_dir: Path, n: int, steps: int, seed: int) -> list[str]:
    model = MaskedDiffusion.from_checkpoint(model_dir, num_steps=steps, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    out: list[str] = []
    for start in range(0, n, 250):
        x = rollout(model, model.init(min(250, n - start), generator), generator, lambda record: None)
        out += model.decode(x)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("checkpoints/rna_mdlm"))
    p.add_argument("--data", type=Path, default=Path("data/rna"))
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    test, train = read(args.data / "test.tsv"), read(args.data / "train.tsv")
    rng = random.Random(args.seed)
    letters = "".join(test)
    sets = {"model samples": sample(args.model, args.samples, args.steps, args.seed),
            "test UTRs": test, "train UTRs (subset)": rng.sample(train, len(test)),
            "i.i.d. letters": ["".join(rng.choice(letters) for _ in range(len(test[0]))) for _ in test]}
    test_mfe = np.array([fold(s)[1] for s in test])
    results = {name: statistics(seqs, test, test_mfe) for name, seqs in sets.items()}
    (args.model / "evaluation.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| set | n | GC | uAUG rate | uAUG / seq | A/G at -3 | 3-mer TV to test | MFE mean (sd) | "
          "MFE quartiles | MFE KS to test |\n|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        q = r["mfe_quartiles"]
        print(f"| {name} | {r['n']} | {r['gc_mean']:.3f} | {r['uaug_rate']:.3f} | {r['uaug_mean']:.2f} | "
              f"{r['purine_minus3']:.3f} | {r['kmer3_distance']:.3f} | {r['mfe_mean']:.2f} ({r['mfe_sd']:.2f}) | "
              f"{q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} | {r['mfe_ks']:.3f} |")


if __name__ == "__main__":
    main()
