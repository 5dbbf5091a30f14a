"""Train MDLM's DiT (svdd_cli.models.dit) as a masked diffusion prior, resumable across sittings.

The recipe of checkpoints/molecule_mdlm is in its MODEL_CARD.md; in short

    python scripts/prepare_molecule.py --tokens ring-first --length 40 --out data/molecule_ringfirst \
        --hashes data/molecule_ringfirst/train_hashes.npy
    python scripts/prepare_molecule.py --fragments data/molecule_ringfirst --merges 350 --out data/molecule_fragments \
        --hashes data/molecule_fragments/train_hashes.npy
    OMP_NUM_THREADS=1 python scripts/train_mdlm.py --data data/molecule_fragments --state training/molecule_fragments

Running the same command again resumes from the state in <state> (weights, EMA, AdamW moments in bf16,
step, data order, RNG), which is rewritten every --save-minutes and when the sitting ends (--minutes, --max-steps,
kill or Ctrl-C).
<state>/log.jsonl gets the training loss every 50 steps and the validation NELBO (nats / sequence)
every --eval-every steps. `--export FOLDER` writes the EMA weights as a checkpoint folder
(config.json + model.safetensors) that MaskedDiffusion.from_checkpoint loads, and trains nothing.

Loss: MDLM's continuous-time NELBO with antithetic times (MaskedDiffusion.nelbo) divided by the
length; AdamW, linear warm-up then a constant learning rate (MDLM's schedule), EMA of the weights.
`--order right_to_left` (or left_to_right) also trains the conditionals that kernel of the same name samples from:
--order-fraction of each batch has a prefix (suffix) masked up to a uniform cut and adds the negative log-likelihood
of the next position to unmask times the length (an unbiased estimate of the row's NLL in that order, the same
scale as the NELBO); the validation then logs that NLL too (`valid_order_nll`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from svdd_cli.checkpoint import resolve_device, save_folder
from svdd_cli.models.dit import DIT
from svdd_cli.models.kernels import FIXED_ORDERS
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.training import (
    Sitting,
    compact_optimizer,
    ema_update,
    expand_optimizer,
    load_state,
    save_state,
    use_bf16,
)


def load_tokens(path: Path, vocab: list[str]) -> torch.Tensor:
    """The `sequence` column of a TSV as token ids (N, L) uint8 (int16 past 256 tokens), cached next to it as .npy
    (the cache alone is enough: scripts/device_train.sh sends a GPU machine only the .npy files)."""
    cache = path.with_suffix(".tokens.npy")
    if cache.exists() and (not path.exists() or cache.stat().st_mtime > path.stat().st_mtime):
        return torch.from_numpy(np.load(cache))
    index = {token: i for i, token in enumerate(vocab)}
    with open(path) as f:
        rows = [[index[t] for t in row["sequence"].split()] for row in csv.DictReader(f, delimiter="\t")]
    array = np.asarray(rows, dtype=np.uint8 if len(vocab) <= 256 else np.int16)
    np.save(cache, array)
    return torch.from_numpy(array)


@torch.no_grad()
def validation_nelbo(model: MaskedDiffusion, tokens: torch.Tensor, seed: int) -> float:
    """Mean NELBO (nats per sequence) over `tokens`, 2 stratified times per sequence."""
    model.denoiser.eval()
    gen = torch.Generator(tokens.device).manual_seed(seed)
    total = sum(-model.log_likelihood(batch, gen, draws=2).sum().item() for batch in tokens.split(256))
    model.denoiser.train()
    return total / len(tokens)


def order_nll(model: MaskedDiffusion, x0: torch.Tensor, order: str, cut: torch.Tensor) -> torch.Tensor:
    """One-cut estimate of each row's NLL when unmasked in `order` (left_to_right / right_to_left): the
    positions from the cut (B, 1) on (that side, the cut included) are masked and the cut's token is scored, times
    the length; a uniform cut makes it unbiased: (B, L) -> (B,) nats."""
    length = x0.shape[1]
    index = torch.arange(length, device=x0.device)
    masked = index >= cut if order == "left_to_right" else index <= cut
    x_t = torch.where(masked, model.mask_id, x0)
    log_probs = model.denoiser_log_probs(x_t, masked.float().mean(-1))
    return -log_probs.gather(-1, x0.unsqueeze(-1)).squeeze(-1).gather(-1, cut).squeeze(-1) * length


def validation_order_nll(model: MaskedDiffusion, tokens: torch.Tensor, order: str) -> float:
    """Exact mean NLL (nats per sequence) of `tokens` unmasked one position at a time in `order`: order_nll's
    mean over every cut (L network calls per batch)."""
    model.denoiser.eval()
    length, total = tokens.shape[1], 0.0
    with torch.inference_mode():
        for batch in tokens.split(500):
            for c in range(length):
                cut = torch.full((len(batch), 1), c, device=batch.device)
                total += order_nll(model, batch, order, cut).sum().item() / length
    model.denoiser.train()
    return total / len(tokens)


def learning_rate(train: dict, step: int, max_steps: int | None, cooldown: int) -> float:
    """Linear warm-up, then constant; with `cooldown`, linear decay to 0 over the steps before `max_steps`.

    A later sitting without --cooldown goes back to the constant rate (warmup-stable-decay)."""
    rate = train["lr"] * min(1.0, (step + 1) / train["warmup"])
    if cooldown and max_steps is not None:
        rate *= min(1.0, (max_steps - step) / cooldown)
    return rate


def renamed_blocks(key: str, old_blocks: int, new_blocks: int) -> str:
    """The name of a DIT parameter after growing from old_blocks to new_blocks blocks: old block i becomes block
    i * new_blocks // old_blocks; the blocks between are new (zero-gated, so the grown net computes the same)."""
    parts = key.split(".")
    if parts[0] == "blocks":
        parts[1] = str(int(parts[1]) * new_blocks // old_blocks)
    return ".".join(parts)


def load_carried(net: DIT, state: dict[str, torch.Tensor], old_blocks: int, grown: bool) -> None:
    """Load a saved state dict into `net`, which may have more blocks or positions than the saved one (`grown`);
    the parameters it adds keep their values in `net`."""
    blocks = len(net.blocks)
    renamed = {renamed_blocks(k, old_blocks, blocks): v for k, v in state.items()}
    unexpected = net.load_state_dict(renamed, strict=not grown).unexpected_keys
    if unexpected:
        raise ValueError(f"the saved state has parameters this net lacks: {unexpected}")


def carried_optimizer(moments: dict, old_names: list[str], new_names: list[str]) -> dict:
    """AdamW's state of a net with parameters `old_names` (already renamed) for one with `new_names`: each carried
    parameter keeps its moments at its new place in the order; the added ones start at 0."""
    where = {name: i for i, name in enumerate(new_names)}
    group = {**moments["param_groups"][0], "params": list(range(len(new_names)))}
    return {"state": {where[old_names[i]]: s for i, s in moments["state"].items()}, "param_groups": [group]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train/valid.tsv and vocab.txt")
    p.add_argument("--state", type=Path, required=True, help="folder of the training state and log.jsonl")
    p.add_argument("--export", type=Path, help="write the EMA weights as a checkpoint folder and stop")
    p.add_argument("--minutes", type=float, default=60.0, help="train this long in this sitting")
    p.add_argument("--max-steps", type=int, help="stop at this step (counted across sittings)")
    p.add_argument("--save-minutes", type=float, default=10.0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--valid-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int,
                   help="sequences per step (default 128; on resume the saved one, unless given: a GPU takes more)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--cooldown", type=int, default=0,
                   help="anneal the lr linearly to 0 over the last N steps before --max-steps (warmup-stable-decay)")
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--order", choices=FIXED_ORDERS,
                   help="also train this unmasking order's conditionals (the model.kernel of the same name)")
    p.add_argument("--order-fraction", type=float, default=0.5, help="rows of each batch that train --order")
    p.add_argument("--hidden", type=int, default=224)
    p.add_argument("--blocks", type=int,
                   help="transformer blocks (default 4); a saved state with fewer gets new zero-gated blocks "
                        "between its own and goes on from where it was, computing the same function")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--cond-dim", type=int, default=64)
    p.add_argument("--positions", type=int, default=0,
                   help="learned absolute positions for up to N tokens (0: rotary only, MDLM's); a saved state "
                        "without them gets them zero-initialised and goes on from where it was")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (default: where it is fast, on CUDA and CPUs with AMX)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (a GPU sitting continues a CPU one)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.cooldown and args.max_steps is None:
        p.error("--cooldown needs --max-steps (the step the learning rate reaches 0)")
    if args.order and not 0 < args.order_fraction < 1:
        p.error(f"--order-fraction {args.order_fraction} must be in (0, 1): the rest of each batch trains the NELBO")
    torch.set_num_threads(args.threads)
    saved = load_state(args.state)
    device = resolve_device(args.device)
    bf16 = use_bf16(device, args.bf16)
    config = saved["config"] if saved else {
        "vocab": (args.data / "vocab.txt").read_text().split(), "eps": 1e-3,
        "backbone": {"_target_": "svdd_cli.models.dit.DIT", "hidden_size": args.hidden, "cond_dim": args.cond_dim,
                     "n_blocks": args.blocks or 4, "n_heads": args.heads, "dropout": 0.0, "time_conditioning": False},
        "train": {"data": str(args.data), "batch_size": args.batch_size or 128, "lr": args.lr, "warmup": args.warmup,
                  "ema": args.ema, "seed": args.seed}}
    saved_positions = config["backbone"].get("positions")
    if args.positions and saved_positions and args.positions != saved_positions:
        p.error(f"--positions {args.positions}: the saved state already has {saved_positions} positions "
                "(leave the flag out to go on with them)")
    saved_blocks = config["backbone"]["n_blocks"]
    if args.blocks and args.blocks < saved_blocks:
        p.error(f"--blocks {args.blocks}: the saved state already has {saved_blocks} blocks (blocks can only be added)")
    old_backbone = {k: v for k, v in config["backbone"].items() if k != "_target_"}
    if args.positions and not saved_positions:
        config["backbone"]["positions"] = args.positions
    if args.blocks:
        config["backbone"]["n_blocks"] = args.blocks
    backbone = {k: v for k, v in config["backbone"].items() if k != "_target_"}
    grown = saved is not None and backbone != old_backbone
    if grown:
        print(f"growing the saved net: {old_backbone} -> {backbone}")
    torch.manual_seed(config["train"]["seed"] + (saved["step"] if saved else 0))  # the added blocks' weights
    net = DIT(len(config["vocab"]) + 1, **backbone)
    ema = DIT(len(config["vocab"]) + 1, **backbone)
    ema.load_state_dict(net.state_dict())
    step, epoch, position = 0, 0, 0
    if saved:  # added positions start at zero and added blocks zero-gated: the grown net computes the same
        load_carried(net, saved["model"], saved_blocks, grown)
        load_carried(ema, saved["ema"], saved_blocks, grown)
        step, epoch, position = saved["step"], saved["epoch"], saved["position"]
        torch.set_rng_state(saved["rng"])
    net, ema = net.to(device), ema.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=config["train"]["lr"], weight_decay=0.0)
    if saved:
        old_names = [renamed_blocks(name, saved_blocks, backbone["n_blocks"])
                     for name, _ in DIT(len(config["vocab"]) + 1, **old_backbone).named_parameters()]
        opt.load_state_dict(carried_optimizer(expand_optimizer(saved["optimizer"]), old_names,
                                              [name for name, _ in net.named_parameters()]))
    tokens_file = args.data / "tokens.txt"  # scripts/prepare_molecule.py --tokens; the config.json of --export
    config["tokens"] = tokens_file.read_text().strip() if tokens_file.exists() else config.get("tokens", "selfies")
    if args.export:
        folder_config = {"vocab": config["vocab"], "tokens": config["tokens"],
                         "length": config["length"], "eps": config["eps"],
                         "backbone": {"_target_": "svdd_cli.models.dit.DIT", "vocab_size": len(config["vocab"]) + 1,
                                      **backbone}}
        save_folder(args.export, folder_config, ema)
        print(f"exported the EMA weights of step {step} to {args.export}")
        return

    train = load_tokens(args.data / "train.tsv", config["vocab"])
    valid = load_tokens(args.data / "valid.tsv", config["vocab"])[:args.valid_size].long().to(device)
    config["length"] = train.shape[1]
    if backbone.get("positions", train.shape[1]) < train.shape[1]:
        p.error(f"--positions {backbone['positions']} is shorter than the data's {train.shape[1]} tokens")
    if saved and saved.get("train_size") != len(train):  # a new data folder: start its first epoch
        print(f"training data changed ({saved.get('train_size')} -> {len(train)} sequences): new epoch order")
        epoch, position = epoch + 1, 0
    config["train"]["data"] = str(args.data)
    model = MaskedDiffusion(net, config["vocab"], config["length"], eps=config["eps"], device=device)
    eval_model = MaskedDiffusion(ema, config["vocab"], config["length"], eps=config["eps"], device=device)
    if args.batch_size and args.batch_size != config["train"]["batch_size"]:
        print(f"batch size {config['train']['batch_size']} -> {args.batch_size}")
        config["train"]["batch_size"] = args.batch_size
    batch_size, decay = config["train"]["batch_size"], config["train"]["ema"]
    n_params = sum(q.numel() for q in net.parameters())
    sitting = Sitting(args.minutes, args.max_steps)  # from here on, kill / Ctrl-C saves before exiting
    print(f"{n_params / 1e6:.2f}M parameters, {len(train)} training sequences, resuming at step {step}", flush=True)
    args.state.mkdir(parents=True, exist_ok=True)
    log = open(args.state / "log.jsonl", "a")

    def order(ep: int) -> torch.Tensor:
        return torch.randperm(len(train), generator=torch.Generator().manual_seed(config["train"]["seed"] + ep))

    def save() -> None:
        save_state({"config": config, "model": net.state_dict(), "ema": ema.state_dict(), "step": step,
                    "epoch": epoch, "position": position, "train_size": len(train), "rng": torch.get_rng_state(),
                    "optimizer": compact_optimizer(opt.state_dict())}, args.state)

    perm, start, last_save, running = order(epoch), time.time(), time.time(), []
    ordered = round(batch_size * args.order_fraction) if args.order else 0  # rows per batch that train --order
    net.train()
    while sitting.goes_on(step):
        if position + batch_size > len(train):
            epoch, position = epoch + 1, 0
            perm = order(epoch)
        batch = train[perm[position:position + batch_size]].long().to(device)
        position += batch_size
        for group in opt.param_groups:
            group["lr"] = learning_rate(config["train"], step, args.max_steps, args.cooldown)
        t = ((torch.rand(1) + torch.arange(batch_size - ordered) / (batch_size - ordered)) % 1).clamp_min(1e-4)
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):  # antithetic times ^
            losses = model.nelbo(batch[ordered:], t.to(device))
            if ordered:
                cut = torch.randint(config["length"], (ordered, 1), device=device)
                losses = torch.cat([order_nll(model, batch[:ordered], args.order, cut), losses])
            loss = losses.mean() / config["length"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        ema_update(ema, net, decay, step)
        running.append(loss.item())  # a resumed sitting's first record averages fewer steps
        if step % 50 == 0:
            record = {"step": step, "epoch": epoch, "loss": sum(running) / len(running),
                      "lr": opt.param_groups[0]["lr"], "minutes": (time.time() - start) / 60}
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(record, flush=True)
            running.clear()
        if step % args.eval_every == 0:
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                nelbo = validation_nelbo(eval_model, valid, seed=1)
            record = {"step": step, "valid_nelbo_ema": nelbo, "bits_per_token": nelbo / config["length"] / math.log(2)}
            if args.order:
                with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                    record["valid_order_nll"] = validation_order_nll(eval_model, valid, args.order)
            log.write(json.dumps(record) + "\n")
            log.flush()
        if time.time() - last_save > args.save_minutes * 60:
            save()
            last_save = time.time()
    save()
    print(f"saved step {step} to {args.state}", flush=True)


if __name__ == "__main__":
    main()
