"""Train a HepG2-specific enhancer oracle (svdd_cli.rewards.enhancer.EnhancerCNN) on real DNase sites.

Two independent oracles are trained on disjoint chromosomes of the training split, so the one
that guides sampling never saw the data of the one that evaluates it:
  guidance   (checkpoints/dna_enhancer_oracle):  odd autosomes + chrX
  evaluation (checkpoints/dna_enhancer_heldout): even autosomes + chrY
Both select their epoch on chr2 (validation) and report AUROC on chr1 (test).

    python scripts/prepare_dna.py
    python scripts/train_dna_oracle.py --role guidance   --out checkpoints/dna_enhancer_oracle
    python scripts/train_dna_oracle.py --role evaluation --out checkpoints/dna_enhancer_heldout
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

from svdd_cli.checkpoint import save_folder
from svdd_cli.rewards.enhancer import EnhancerCNN
from svdd_cli.science.sequence import one_hot

ALPHABET = "ACGT"


def chromosome_half(chrom: str) -> str:
    """'guidance' for odd autosomes and chrX, 'evaluation' for even autosomes and chrY."""
    name = chrom.removeprefix("chr")
    if name in ("X", "Y"):
        return "guidance" if name == "X" else "evaluation"
    return "guidance" if int(name) % 2 else "evaluation"


def load(path: Path, role: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    with open(path) as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if role is None or chromosome_half(r["chrom"]) == role]
    x, _ = one_hot([r["sequence"] for r in rows], ALPHABET)
    y = torch.tensor([r["cell_type"] == "HepG2" for r in rows], dtype=torch.float32)
    return x, y


def auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula."""
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    pos = labels.bool()
    n_pos, n_neg = pos.sum().item(), (~pos).sum().item()
    return ((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


@torch.no_grad()
def predict(net: EnhancerCNN, x: torch.Tensor) -> torch.Tensor:
    net.eval()
    out = torch.cat([net(b) for b in x.split(512)])
    net.train()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/dna"))
    p.add_argument("--role", choices=["guidance", "evaluation"], required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=None, help="default: 0 for guidance, 1 for evaluation")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else {"guidance": 0, "evaluation": 1}[args.role]
    torch.manual_seed(seed)
    x, y = load(args.data / "train.tsv", args.role)
    xv, yv = load(args.data / "valid.tsv")
    xt, yt = load(args.data / "test.tsv")
    print(f"{args.role}: train {len(y)} ({int(y.sum())} HepG2), valid {len(yv)}, test {len(yt)}")

    net = EnhancerCNN()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    config = {"alphabet": ALPHABET, "length": x.shape[-1], "network": {"channels": 128, "dropout": 0.2},
              "label": "HepG2 vs GM12878/K562/hESCT0 (logit)", "role": args.role, "seed": seed}
    best = -math.inf
    for epoch in range(args.epochs):
        order = torch.randperm(len(y))
        for i in range(0, len(y), 128):
            idx = order[i:i + 128]
            xb = x[idx]
            flip = torch.rand(len(idx)) < 0.5  # reverse-complement augmentation: A<->T, C<->G, reversed
            xb[flip] = xb[flip].flip(1, 2)
            loss = loss_fn(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        valid_auc = auroc(predict(net, xv), yv)
        print(f"epoch {epoch}: loss {loss.item():.3f} valid AUROC {valid_auc:.4f}", flush=True)
        if valid_auc > best:
            best = valid_auc
            save_folder(args.out, config, net)
    net.load_state_dict(load_file(str(args.out / "model.safetensors")))  # the best-on-valid epoch
    test_logits = predict(net, xt)
    metrics = {"role": args.role, "train_size": len(y), "valid_auroc": best, "test_auroc": auroc(test_logits, yt),
               "test_positive_rate": yt.mean().item(), "test_logit_median": test_logits.median().item()}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
