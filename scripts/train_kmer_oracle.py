"""Train the k-mer / JASPAR-motif logistic regression HepG2 oracle (checkpoints/dna_kmer_oracle).

Same data split as the held-out CNN (checkpoints/dna_enhancer_heldout): training rows on even autosomes + chrY,
label = (cell type == HepG2); the L2 strength is chosen by validation AUROC; test AUROC on data/dna/test.tsv.
Full-batch L-BFGS on standardised features (svdd_cli.rewards.kmer_oracle.KmerFeatures). Deterministic.

    python scripts/prepare_dna.py
    python scripts/train_kmer_oracle.py [--data data/dna] [--out checkpoints/dna_kmer_oracle]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from train_dna_oracle import auroc, chromosome_half

from svdd_cli.domains.dna.naturalness import CONTROL_TFS, TARGET_TFS
from svdd_cli.rewards.kmer_oracle import KmerFeatures

L2 = (1e-4, 1e-3, 1e-2)


def load(path: Path, features: KmerFeatures, role: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    with open(path) as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if role is None or chromosome_half(r["chrom"]) == role]
    return features([r["sequence"] for r in rows]), torch.tensor([r["cell_type"] == "HepG2" for r in rows]).float()


def fit(x: torch.Tensor, y: torch.Tensor, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic regression weights (D,) and bias () minimising mean BCE + l2 |w|^2 on standardised x."""
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * w.square().sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach(), b.detach()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/dna"))
    p.add_argument("--out", type=Path, default=Path("checkpoints/dna_kmer_oracle"))
    args = p.parse_args()
    config = {"length": 200, "motifs": {**TARGET_TFS, **CONTROL_TFS}, "jaspar_release": "JASPAR2024",
              "motif_relative_score": 0.85, "features": "1- to 4-mer frequencies (340) + JASPAR site counts (6)",
              "label": "HepG2 vs GM12878/K562/hESCT0 (logit)", "training_rows": "train.tsv, even autosomes + chrY"}
    features = KmerFeatures(config["motifs"], config["jaspar_release"], config["motif_relative_score"])
    x, y = load(args.data / "train.tsv", features, "evaluation")
    xv, yv = load(args.data / "valid.tsv", features)
    xt, yt = load(args.data / "test.tsv", features)
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-6)
    z = lambda a: (a - mean) / scale  # noqa: E731
    fits = {l2: fit(z(x), y, l2) for l2 in L2}
    valid = {l2: auroc(z(xv) @ w + b, yv) for l2, (w, b) in fits.items()}
    best = max(valid, key=valid.get)
    w, b = fits[best]
    test_scores = z(xt) @ w + b
    metrics = {"training_sequences": len(y), "training_hepg2": int(y.sum()), "l2": best,
               "validation_auroc": valid, "test_auroc": auroc(test_scores, yt),
               "test_positive_rate": yt.mean().item(), "median_test_logit": test_scores.median().item()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file({"mean": mean, "scale": scale, "weight": w, "bias": b.reshape(())}, str(args.out / "model.safetensors"))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
