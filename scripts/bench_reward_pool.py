"""Benchmark the reward pool with AutoDock Vina docking: 1 worker vs every core, and cache hits under guidance.

    python scripts/bench_reward_pool.py [--target PARP1 --ligands 16 --exhaustiveness 1]

Part 1: the same distinct molecules docked by a Docking reward with workers=1 and with workers=all cores
(MOSES test molecules from data/molecule_ringfirst/test.tsv when scripts/prepare_molecule.py has written it, else
molecules drawn from the shipped molecule model); the receptor maps are computed before the clock starts (once,
inherited by the forked workers), so the figures are docking throughput. Part 2: an SVDD-PM run on the
shipped molecule model guided by the same docking reward (small: --samples x --candidates, --steps),
reporting the pool's cache hit rate (x0-hat predictions repeat across candidates and steps).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import torch

import svdd_cli
from svdd_cli.rewards.docking import Docking
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.svdd import SVDD


def throughput(args: argparse.Namespace, ligands: list[str], workers: int) -> dict[str, float]:
    reward = Docking(args.target, args.exhaustiveness, workers=workers)
    reward.job.vina()
    start = time.perf_counter()
    scores = reward(ligands)
    wall = time.perf_counter() - start
    reward.pool.close()
    return {"workers": workers, "wall_s": wall, "ligands_per_min": 60 * len(ligands) / wall,
            "median_reward": scores.median().item(), "failures": reward.stats()["failures"]}


def guided_run(args: argparse.Namespace) -> dict[str, float]:
    model = svdd_cli.load_model("molecule", num_steps=args.steps, kernel="random_order", device="cpu")  # any steps
    reward = Docking(args.target, args.exhaustiveness)
    start = time.perf_counter()
    x = SVDD(num_candidates=args.candidates).sample(model, reward, args.samples, torch.Generator().manual_seed(0),
                                                     lambda record: None)
    wall = time.perf_counter() - start
    final = reward(model.decode(x))
    reward.pool.close()
    return {"samples": args.samples, "candidates": args.candidates, "steps": args.steps, "wall_s": wall,
            "reward_calls": reward.pool.hits + reward.pool.misses, **reward.stats(), "final_rewards": final.tolist()}


def read_ligands(args: argparse.Namespace) -> tuple[list[str], str]:
    """--ligands SMILES: MOSES test molecules from --data when it exists, else ancestral samples of the shipped
    molecule model (every decoded SELFIES is a valid molecule), with where they came from."""
    if args.data.exists():
        with open(args.data) as f:
            rows = zip(range(args.ligands), csv.DictReader(f, delimiter="\t"))
            return [row["smiles"] for _, row in rows], str(args.data)
    model = svdd_cli.load_model("molecule", device="cpu")
    x = Ancestral().sample(model, None, args.ligands, torch.Generator().manual_seed(0), lambda record: None)
    return model.decode(x), f"{args.ligands} ancestral samples of the shipped molecule model ({args.data} not found)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="PARP1")
    p.add_argument("--exhaustiveness", type=int, default=1)
    p.add_argument("--ligands", type=int, default=16)
    p.add_argument("--data", type=Path, default=Path("data/molecule_ringfirst/test.tsv"))
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-guided", action="store_true")
    args = p.parse_args()
    ligands, source = read_ligands(args)
    result: dict = {"target": args.target, "exhaustiveness": args.exhaustiveness, "ligand_source": source,
                    "load_average": os.getloadavg()}
    if not args.skip_throughput:
        cores = os.cpu_count() or 1
        one, every = throughput(args, ligands, 1), throughput(args, ligands, cores)
        result |= {"ligands": len(ligands), "cores": cores, "one_worker": one, "all_cores": every,
                   "speedup": one["wall_s"] / every["wall_s"]}
    if not args.skip_guided:
        result["guided_svdd"] = guided_run(args)
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
