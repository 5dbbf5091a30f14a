"""Train the shipped pixel DDPM, a diffusers UNet2DModel on Fashion-MNIST (28x28, grey, in [-1, 1]), resumable.

    OMP_NUM_THREADS=1 python scripts/train_image_ddpm.py --state training/fashion_ddpm --minutes 110
    python scripts/train_image_ddpm.py --state training/fashion_ddpm --export checkpoints/fashion_ddpm

Running the same command again resumes from the state in <state> (weights, EMA, AdamW moments in bf16, step,
RNG), rewritten every --save-minutes and when the sitting ends (kill and Ctrl-C included); --minutes bounds this
sitting only, --max-steps the whole training.
<state>/log.jsonl gets the mean loss every 50 steps. `--export FOLDER` writes the EMA UNet and its
DDPMScheduler with save_pretrained (FOLDER/unet, FOLDER/scheduler, FOLDER/training.json) and trains nothing.

Loss: epsilon-prediction MSE at uniform timesteps (Ho et al. 2020, L_simple), cosine noise schedule; AdamW with
a linear warm-up then a constant learning rate; EMA of the weights (what is exported).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DModel

from svdd_cli.checkpoint import resolve_device
from svdd_cli.science.fashion import load_fashion_mnist
from svdd_cli.training import (
    Sitting,
    compact_optimizer,
    ema_update,
    expand_optimizer,
    load_state,
    save_state,
    use_bf16,
)


def make_unet(channels: list[int], layers: int) -> UNet2DModel:
    """UNet2DModel for (B, 1, 28, 28): ResNet blocks, self-attention at the 7x7 level."""
    down = ["DownBlock2D"] * (len(channels) - 1) + ["AttnDownBlock2D"]
    up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (len(channels) - 1)
    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=tuple(channels),
                       layers_per_block=layers, down_block_types=tuple(down), up_block_types=tuple(up),
                       norm_num_groups=8, attention_head_dim=16)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", type=Path, required=True, help="folder of the training state and log.jsonl")
    p.add_argument("--export", type=Path, help="write the EMA UNet + scheduler as a checkpoint folder and stop")
    p.add_argument("--minutes", type=float, default=60.0, help="train this long in this sitting")
    p.add_argument("--max-steps", type=int, help="stop at this step (counted across sittings)")
    p.add_argument("--save-minutes", type=float, default=10.0)
    p.add_argument("--channels", default="32,64,64", help="UNet block widths (first sitting only)")
    p.add_argument("--layers", type=int, default=1, help="ResNet layers per block (first sitting only)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema", type=float, default=0.9995)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (default: where it is fast, on CUDA and CPUs with AMX)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (a GPU sitting continues a CPU one)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    saved = load_state(args.state)
    config = saved["config"] if saved else {
        "channels": [int(c) for c in args.channels.split(",")], "layers": args.layers, "batch_size": args.batch_size,
        "lr": args.lr, "warmup": args.warmup, "ema": args.ema, "seed": args.seed}
    net, ema = make_unet(config["channels"], config["layers"]), make_unet(config["channels"], config["layers"])
    step = 0
    if saved:
        net.load_state_dict(saved["model"])
        ema.load_state_dict(saved["ema"])
        step = saved["step"]
        torch.set_rng_state(saved["rng"])
    else:
        torch.manual_seed(config["seed"])
        ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    n_params = sum(q.numel() for q in net.parameters())
    info = {"params": n_params, "config": config, "steps": step, "images_seen": step * config["batch_size"]}
    if args.export:
        ema.save_pretrained(args.export / "unet")
        scheduler.save_pretrained(args.export / "scheduler")
        (args.export / "training.json").write_text(json.dumps({**info, "minutes": saved["minutes"] if saved else 0.0},
                                                              indent=2) + "\n")
        print(f"exported the EMA weights of step {step} to {args.export}")
        return

    device = resolve_device(args.device)
    bf16 = use_bf16(device, args.bf16)
    net, ema = net.to(device), ema.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=config["lr"], weight_decay=0.0)
    if saved:
        opt.load_state_dict(expand_optimizer(saved["optimizer"]))
    images, _ = load_fashion_mnist("train")
    data = torch.from_numpy(images.copy()).float().div(127.5).sub(1).unsqueeze(1).to(device)  # (N, 1, 28, 28)
    abar = scheduler.alphas_cumprod.to(device)
    minutes_before = saved["minutes"] if saved else 0.0
    sitting = Sitting(args.minutes, args.max_steps)  # from here on, kill / Ctrl-C saves before exiting
    print(f"UNet2DModel {n_params / 1e6:.2f}M parameters, {len(data)} training images, resuming at step {step}",
          flush=True)
    args.state.mkdir(parents=True, exist_ok=True)
    log = open(args.state / "log.jsonl", "a")
    start, last_save, running = time.time(), time.time(), []

    def save() -> None:
        save_state({"config": config, "model": net.state_dict(), "ema": ema.state_dict(), "step": step,
                    "rng": torch.get_rng_state(), "minutes": minutes_before + (time.time() - start) / 60,
                    "optimizer": compact_optimizer(opt.state_dict())}, args.state)

    net.train()
    while sitting.goes_on(step):
        x0 = data[torch.randint(len(data), (config["batch_size"],))]
        t = torch.randint(0, 1000, (config["batch_size"],))
        eps = torch.randn(x0.shape).to(device)
        a = abar[t.to(device)].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
        for group in opt.param_groups:
            group["lr"] = config["lr"] * min(1.0, (step + 1) / config["warmup"])
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            prediction = net(x_t, t.to(device)).sample
        loss = (prediction.float() - eps).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        ema_update(ema, net, config["ema"], step)
        running.append(loss.item())  # a resumed sitting's first record averages fewer steps
        if step % 50 == 0:
            record = {"step": step, "loss": sum(running) / len(running),
                      "minutes": minutes_before + (time.time() - start) / 60}
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(record, flush=True)
            running.clear()
        if time.time() - last_save > args.save_minutes * 60:
            save()
            last_save = time.time()
    save()
    print(f"saved step {step} to {args.state}", flush=True)


if __name__ == "__main__":
    main()
