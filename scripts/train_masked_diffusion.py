"""Train the pre-trained masked diffusion model on real sequences and write a checkpoint folder.

The recipe that made checkpoints/dna_mdlm (all cell types, training split = every chromosome but
chr1/chr2; model selection on chr2; test NELBO on chr1):

    python scripts/prepare_dna.py
    python scripts/train_masked_diffusion.py --data data/dna --alphabet ACGT --out checkpoints/dna_mdlm

Data: <data>/{train,valid,test}.tsv with a `sequence` column, all of one length. With --alphabet every
letter is a token; with --vocab FILE (one token per line) sequences are space-separated tokens
(e.g. SELFIES symbols padded to a fixed length).

Loss: MDLM's continuous-time NELBO (svdd_cli.models.masked.MaskedDiffusion.nelbo), antithetic times.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import torch

from svdd_cli.checkpoint import save_folder
from svdd_cli.models.masked import ConvDenoiser, MaskedDiffusion


def read_sequences(path: Path, tokenized: bool) -> list[list[str]] | list[str]:
    with open(path) as f:
        rows = [row["sequence"] for row in csv.DictReader(f, delimiter="\t")]
    return [row.split() for row in rows] if tokenized else rows


@torch.no_grad()
def evaluate(model: MaskedDiffusion, tokens: torch.Tensor, draws: int, seed: int) -> float:
    """Mean NELBO (nats per sequence) over `tokens`, `draws` stratified times per sequence."""
    model.denoiser.eval()
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for batch in tokens.split(256):
        total += -model.log_likelihood(batch, gen, draws=draws).sum().item()
    model.denoiser.train()
    return total / len(tokens)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train/valid/test.tsv")
    vocab = p.add_mutually_exclusive_group(required=True)
    vocab.add_argument("--alphabet", help="one-letter tokens, e.g. ACGT")
    vocab.add_argument("--vocab", type=Path, help="file with one token per line")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--kernel-size", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    tokens_list = list(args.alphabet) if args.alphabet else args.vocab.read_text().split()
    splits = {name: read_sequences(args.data / f"{name}.tsv", args.vocab is not None)
              for name in ("train", "valid", "test")}
    length = len(splits["train"][0])
    backbone = {"channels": args.channels, "layers": args.layers, "kernel_size": args.kernel_size}
    model = MaskedDiffusion(ConvDenoiser(len(tokens_list), **backbone), tokens_list, length)
    tokens = {name: model.encode(seqs) for name, seqs in splits.items()}
    n_params = sum(p.numel() for p in model.denoiser.parameters())
    print(f"{n_params / 1e6:.2f}M parameters; " + ", ".join(f"{k}={len(v)}" for k, v in tokens.items()))

    opt = torch.optim.AdamW(model.denoiser.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = len(tokens["train"]) // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    warmup = 200
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1, (i + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(i, total_steps) / total_steps)))
    model.denoiser.train()
    config = {"vocab": tokens_list, "length": length, "eps": model.eps, "backbone": backbone}
    best, start = math.inf, time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(tokens["train"]))
        running = 0.0
        for i in range(steps_per_epoch):
            batch = tokens["train"][order[i * args.batch_size:(i + 1) * args.batch_size]]
            u = torch.rand(1)  # antithetic (stratified) times across the batch
            t = ((u + torch.arange(len(batch)) / len(batch)) % 1).clamp_min(1e-4)
            loss = model.nelbo(batch, t).mean() / length
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.denoiser.parameters(), 1.0)
            opt.step()
            sched.step()
            running += loss.item()
            if (i + 1) % 50 == 0:
                print(f"epoch {epoch} step {i + 1}/{steps_per_epoch} loss/base {running / 50:.4f} "
                      f"({time.time() - start:.0f}s)", flush=True)
                running = 0.0
        valid = evaluate(model, tokens["valid"], draws=2, seed=1)
        print(f"epoch {epoch}: valid NELBO {valid:.2f} nats/seq = {valid / length / math.log(2):.4f} bits/base",
              flush=True)
        if valid < best:
            best = valid
            save_folder(args.out, config, model.denoiser)
    # Report held-out figures of the saved (best-on-valid) weights.
    model.denoiser.load_state_dict(MaskedDiffusion.from_checkpoint(args.out, device="cpu").denoiser.state_dict())
    test = evaluate(model, tokens["test"], draws=8, seed=2)
    metrics = {"params": n_params, "epochs": args.epochs, "valid_nelbo_nats": best, "test_nelbo_nats": test,
               "test_bits_per_base": test / length / math.log(2), "train_minutes": (time.time() - start) / 60}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
