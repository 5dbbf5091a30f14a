"""How close SVDD-PM gets to its ideal cost: wall(svdd, M) / (M x wall(ancestral)), same samples and steps.

A step of svdd costs M network evaluations (the kept candidate's prediction is reused), so the
ratio is 1.0 when reward calls, selection and bookkeeping are free; the target is <= 1.10.

    python scripts/bench_svdd_overhead.py [--samples 64] [--candidates 10] [--steps 50] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from svdd_cli.assets import asset_root, register_resolver
from svdd_cli.compose import reward_nodes
from svdd_cli.core import Counters, counted_model
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.svdd import SVDD


def best_time(sampler, model, reward, n: int, repeats: int) -> float:
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        sampler.sample(model, reward, n, torch.Generator(model.device).manual_seed(seed), lambda r: None)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--candidates", type=int, default=10)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--max-batch", type=int, default=64, help="rows per network call (the run's max_batch)")
    args = p.parse_args()
    register_resolver()
    with initialize_config_dir(config_dir=str(asset_root() / "configs"), version_base="1.3"):
        cfg = compose("config", [f"model.num_steps={args.steps}", f"device={args.device}"])
    model = counted_model(instantiate(cfg.model), Counters(), args.max_batch)
    reward_cfg, _, _ = reward_nodes(cfg.reward)
    reward = instantiate(reward_cfg)
    ancestral = best_time(Ancestral(), model, reward, args.samples, args.repeats)
    svdd = best_time(SVDD(num_candidates=args.candidates), model, reward, args.samples, args.repeats)
    ratio = svdd / (args.candidates * ancestral)
    print(f"device {model.device}, {args.samples} samples, {args.steps} steps, M = {args.candidates}, "
          f"max_batch {args.max_batch}")
    print(f"ancestral {ancestral:.2f} s, svdd {svdd:.2f} s; "
          f"wall(svdd) / (M x wall(ancestral)) = {ratio:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
