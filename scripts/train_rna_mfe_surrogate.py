"""Train the MFE surrogate (svdd_cli.rewards.mfe_surrogate.MfeCNN) on ViennaRNA labels; write a checkpoint folder.

The recipe that made checkpoints/rna_mfe_surrogate:

    python scripts/prepare_rna.py
    python scripts/train_rna_mfe_surrogate.py --out checkpoints/rna_mfe_surrogate

Inputs: data/rna/{train,valid,test}.tsv (50-nt human 5'UTRs, split by gene). The training set is the
training UTRs plus `--mutants` copies of each with every base resampled with probability
`--mutation-rate` (so the surrogate has seen sequences off the natural distribution, where guidance
takes it); labels are ViennaRNA MFEs (kcal/mol). The epoch with the best validation R^2 is kept;
metrics.json reports R^2 on the test UTRs and on mutated test UTRs.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from functools import partial
from pathlib import Path

import RNA
import torch
from safetensors.torch import load_file

from svdd_cli.checkpoint import save_folder
from svdd_cli.rewards.mfe import signed_mfe
from svdd_cli.rewards.mfe_surrogate import MfeCNN
from svdd_cli.rewards.pool import ScorePool
from svdd_cli.science.sequence import one_hot


def read(path: Path) -> list[str]:
    with open(path) as f:
        return [row["sequence"] for row in csv.DictReader(f, delimiter="\t")]


def mutate(seqs: list[str], copies: int, rate: float, rng: random.Random) -> list[str]:
    """`copies` variants of every sequence, each base replaced by a uniform draw with probability `rate`."""
    return ["".join(rng.choice("ACGU") if rng.random() < rate else c for c in s) for s in seqs for _ in range(copies)]


def dataset(seqs: list[str], pool: ScorePool) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot (N, 4, L) and ViennaRNA MFE labels (N,)."""
    return one_hot(seqs, "ACGU")[0], pool(seqs)


@torch.no_grad()
def r_squared(net: MfeCNN, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    pred = torch.cat([net(b) for b in x.split(1024)])
    net.train()
    return 1 - ((pred - y) ** 2).sum().item() / ((y - y.mean()) ** 2).sum().item()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/rna"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mutants", type=int, default=2)
    p.add_argument("--mutation-rate", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    pool = ScorePool(partial(signed_mfe, sign=1.0), penalty=float("nan"))
    splits = {name: read(args.data / f"{name}.tsv") for name in ("train", "valid", "test")}
    train = splits["train"] + mutate(splits["train"], args.mutants, args.mutation_rate, rng)
    start = time.time()
    data = {"train": dataset(train, pool), "valid": dataset(splits["valid"], pool),
            "test": dataset(splits["test"], pool),
            "test_mutated": dataset(mutate(splits["test"], 1, args.mutation_rate, rng), pool)}
    pool.close()
    print(f"{len(pool.cache)} ViennaRNA folds in {time.time() - start:.0f}s", flush=True)

    network = {"_target_": "svdd_cli.rewards.mfe_surrogate.MfeCNN", "channels": args.channels, "layers": args.layers}
    net = MfeCNN(args.channels, args.layers)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01)
    x, y = data["train"]
    steps = args.epochs * (len(x) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    config = {"network": network, "alphabet": "ACGU", "length": x.shape[-1],
              "label": f"ViennaRNA {RNA.__version__} MFE (kcal/mol), default parameters, 37 C"}
    best = -float("inf")
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(len(x) // args.batch_size):
            rows = order[i * args.batch_size:(i + 1) * args.batch_size]
            loss = torch.nn.functional.mse_loss(net(x[rows]), y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        valid = r_squared(net, *data["valid"])
        print(f"epoch {epoch}: train MSE {loss.item():.2f}, valid R^2 {valid:.4f} ({time.time() - start:.0f}s)",
              flush=True)
        if valid > best:
            best = valid
            save_folder(args.out, config, net)
    net.load_state_dict(load_file(str(args.out / "model.safetensors")))  # the best-on-valid weights
    metrics = {"params": sum(p.numel() for p in net.parameters()), "train_sequences": len(x),
               "valid_r2": best, "test_r2": r_squared(net, *data["test"]),
               "test_mutated_r2": r_squared(net, *data["test_mutated"]),
               "test_label_mean": data["test"][1].mean().item(), "test_label_std": data["test"][1].std().item(),
               "train_minutes": (time.time() - start) / 60}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
