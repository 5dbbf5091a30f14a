"""Train the shipped pixel DDPM: a small diffusers UNet2DModel on Fashion-MNIST (28x28, grey, in [-1, 1]).

    nice -n 10 python scripts/train_image_ddpm.py --out checkpoints/fashion_ddpm

epsilon-prediction MSE at uniform timesteps (Ho et al. 2020, L_simple), cosine noise schedule, AdamW with
warm-up + cosine decay, EMA of the weights (what is saved). The UNet and its DDPMScheduler are written
with save_pretrained into OUT/unet and OUT/scheduler; a copy is saved every --save-every steps, and
training stops early (saving) after --minutes of wall time.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DModel

from svdd_cli.domains.fashion import load_fashion_mnist


def make_unet(channels: tuple[int, ...]) -> UNet2DModel:
    """UNet2DModel for (B, 1, 28, 28): plain ResNet blocks, self-attention at the 7x7 level."""
    down = ("DownBlock2D",) * (len(channels) - 1) + ("AttnDownBlock2D",)
    up = ("AttnUpBlock2D",) + ("UpBlock2D",) * (len(channels) - 1)
    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=channels,
                       layers_per_block=1, down_block_types=down, up_block_types=up, norm_num_groups=8,
                       attention_head_dim=16)


def save(out: Path, unet: UNet2DModel, scheduler: DDPMScheduler, info: dict) -> None:
    unet.save_pretrained(out / "unet")
    scheduler.save_pretrained(out / "scheduler")
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("checkpoints/fashion_ddpm"))
    p.add_argument("--channels", default="16,32,64")
    p.add_argument("--steps", type=int, default=1400)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--minutes", type=float, default=34.0)
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    images, _ = load_fashion_mnist("train")
    data = torch.from_numpy(images.copy()).float().div(127.5).sub(1).unsqueeze(1)  # (N, 1, 28, 28)
    unet = make_unet(tuple(int(c) for c in args.channels.split(",")))
    ema = copy.deepcopy(unet).requires_grad_(False)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    abar = scheduler.alphas_cumprod
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
    warmup = max(1, min(100, args.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i / args.steps, 1.0))))
    params = sum(p.numel() for p in unet.parameters())
    print(f"UNet2DModel {params} parameters, {len(data)} training images", flush=True)
    start, losses, step = time.time(), [], 0
    info = {"params": params, "args": {k: str(v) for k, v in vars(args).items()}}
    while step < args.steps and time.time() - start < args.minutes * 60:
        x0 = data[torch.randint(len(data), (args.batch_size,))]
        t = torch.randint(0, 1000, (args.batch_size,))
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = (unet(x_t, t).sample - eps).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            for e, w in zip(ema.parameters(), unet.parameters()):
                e.lerp_(w, 1 - args.ema)
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {sum(losses[-50:]) / 50:.4f} {time.time() - start:.0f}s", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            info.update(steps=step, images_seen=step * args.batch_size, final_loss=sum(losses[-100:]) / 100,
                        minutes=(time.time() - start) / 60)
            save(args.out, ema, scheduler, info)
    info.update(steps=step, images_seen=step * args.batch_size, final_loss=sum(losses[-100:]) / 100,
                minutes=(time.time() - start) / 60)
    save(args.out, ema, scheduler, info)
    print(f"saved {args.out} after {step} steps", flush=True)


if __name__ == "__main__":
    main()
