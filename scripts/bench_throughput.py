"""Throughput of the shipped models on this device, and what overlapping CPU oracles with the network saves.

1. Ancestral sampling of the DNA and image models at several batch sizes, fp32 and (GPU) bf16 autocast:
   samples / s and NFE / s (network evaluations, i.e. rows through the denoiser, per second).
2. svdd (M = 10) on molecule / qed, whose RDKit oracle runs in CPU processes: on a GPU, candidates are
   predicted in chunks of max_batch rows, each chunk scored while the next goes through the network; against
   one chunk (max_batch = batch x M: scoring waits for the network). Both give the same samples (checked).

    python scripts/bench_throughput.py --device cuda --batches 64,256,1024,4096 --out bench.json
    python scripts/bench_throughput.py --device cpu --batches 16,64 --domains dna      # a quick CPU look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from svdd_cli.assets import asset_root, register_resolver
from svdd_cli.compose import reward_nodes
from svdd_cli.core import CountedModel, Counters, counted_model
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.summary import device_name


def compose_parts(overrides: list[str]) -> tuple[Any, Any]:
    """The (model, reward) a `svdd run` with these overrides would build."""
    with initialize_config_dir(config_dir=str(asset_root() / "configs"), version_base="1.3"):
        cfg = compose("config", overrides)
    reward_cfg, _, _ = reward_nodes(cfg.reward)
    return instantiate(cfg.model), instantiate(reward_cfg)


def timed(sampler: Any, model: CountedModel, reward: Any, n: int) -> tuple[float, torch.Tensor]:
    """Wall seconds of one sampler.sample of n samples (device synchronised), and the samples."""
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    x = sampler.sample(model, reward, n, torch.Generator(model.device).manual_seed(0), lambda r: None).cpu()
    return time.perf_counter() - start, x


def throughput(domain: str, batches: list[int], device: str) -> list[dict[str, Any]]:
    """Ancestral samples/s and NFE/s per batch size and precision for the domain's shipped model."""
    model, reward = compose_parts([f"domain={domain}", f"device={device}"])
    rows = []
    for precision in ("fp32", "bf16") if model.device.type == "cuda" else ("fp32",):  # CPU bf16: ~100x slower
        for batch in batches:
            counted = counted_model(model, Counters(), batch, precision)
            timed(Ancestral(), counted, reward, min(batch, 8))  # warm-up: kernels, autotuning, allocator
            counted.counters.nfe = 0
            wall, _ = timed(Ancestral(), counted, reward, batch)
            rows.append({"domain": domain, "precision": precision, "batch": batch, "wall_s": wall,
                         "samples_per_s": batch / wall, "nfe_per_s": counted.counters.nfe / wall})
            print(f"{domain:6} {precision} batch {batch:5d}: {batch / wall:9.1f} samples/s "
                  f"{counted.counters.nfe / wall:11.0f} NFE/s", flush=True)
    return rows


def overlap(batch: int, chunk: int, device: str) -> dict[str, Any]:
    """svdd on molecule/qed with candidates scored chunk by chunk (overlapped) vs in one call."""
    walls = {}
    samples = []
    for label, max_batch in (("chunked", chunk), ("one_call", batch * 10)):
        model, reward = compose_parts(["domain=molecule", "reward=qed", f"device={device}"])  # a fresh cache
        counted = counted_model(model, Counters(), max_batch)
        timed(SVDD(10), counted, reward, 2)  # warm-up, starts the oracle's worker processes
        reward.pool.cache.clear()
        walls[label], x = timed(SVDD(10), counted, reward, batch)
        samples.append(x)
        reward.pool.close()
    same = torch.equal(samples[0], samples[1])
    print(f"molecule/qed svdd M=10, {batch} samples: chunks of {chunk} {walls['chunked']:.1f} s, one call "
          f"{walls['one_call']:.1f} s, speed-up {walls['one_call'] / walls['chunked']:.2f}x, same samples {same}")
    return {"batch": batch, "chunk": chunk, **{f"{k}_s": v for k, v in walls.items()},
            "speedup": walls["one_call"] / walls["chunked"], "same_samples": same}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--domains", default="dna,image")
    p.add_argument("--overlap-batch", type=int, default=64, help="samples of the svdd overlap run (0 = skip it)")
    p.add_argument("--overlap-chunk", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path("bench_throughput.json"))
    args = p.parse_args()
    register_resolver()
    batches = [int(b) for b in args.batches.split(",")]
    rows = [row for domain in args.domains.split(",") for row in throughput(domain, batches, args.device)]
    model, _ = compose_parts([f"device={args.device}"])
    result = {"device": device_name(model.device), "torch": torch.__version__, "throughput": rows}
    if args.overlap_batch:
        result["overlap"] = overlap(args.overlap_batch, args.overlap_chunk, args.device)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
