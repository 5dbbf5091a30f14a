"""The hypervolume of every run's samples under ONE set of objectives, from each run's samples.csv
(docs/pareto.md): runs of any reward and sampler compared on the same front, reference point and normalisation.

    python scripts/front_hypervolume.py runs/pareto-* runs/composite-*         # reward=pareto's shipped terms
    python scripts/front_hypervolume.py RUNS... --terms qed=max,sa=max --ranges qed=0:1,sa=0:1

Every run's samples (samples.csv's sample column: the first after `id`) are scored again by the terms of
reward=pareto (the shipped YAML, or --terms / --ranges), scaled to [0, 1] over the ranges; the hypervolume is
measured against each range's worst end (svdd_cli.fronts). Prints one markdown row per run, then the mean per
reward and sampler over the runs (seeds) that share them.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

from svdd_cli.api import load_reward
from svdd_cli.fronts import hypervolume, pareto_ranks


def parse(pairs: str | None, value=str) -> dict:
    """'a=x,b=y' -> {a: value(x), b: value(y)} (None: no override)."""
    return None if pairs is None else {k: value(v) for k, v in (p.split("=", 1) for p in pairs.split(","))}


def runs(dirs: list[Path]) -> list[Path]:
    """Finished run folders (summary.json and samples.csv) under dirs."""
    return sorted({p.parent for d in dirs for p in d.rglob("summary.json") if (p.parent / "samples.csv").exists()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="run folders, or folders holding them")
    parser.add_argument("--terms", help="name=max|min,... (default: reward=pareto's)")
    parser.add_argument("--ranges", help="name=lo:hi,... (default: reward=pareto's)")
    args = parser.parse_args()
    settings = {"device": "cpu"}
    if args.terms:
        settings["terms"] = parse(args.terms)
    if args.ranges:
        settings["ranges"] = parse(args.ranges, lambda v: [float(x) for x in v.split(":")])
    pareto = load_reward("pareto", **settings)
    objectives = pareto.objectives
    print(f"objectives {objectives.record()}; reference point {objectives.reference_point()}")
    print("| run | reward | sampler | seed | samples | NFE / sample | front size | hypervolume |")
    print("|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str], list[float]] = {}
    for folder in runs(args.dirs):
        summary = json.loads((folder / "summary.json").read_text())
        with open(folder / "samples.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        column = list(rows[0])[1]  # the sample itself: the first column after id
        g = objectives.normalise(pareto.objective_values([r[column] for r in rows]).double())
        volume, front = hypervolume(g), sum(r == 0 for r in pareto_ranks(g))
        reward, sampler = summary["choices"].get("reward", "?"), summary["choices"].get("sampler", "?")
        groups.setdefault((reward, sampler), []).append(volume)
        print(f"| {folder} | {reward} | {sampler} | {summary['seed']} | {len(rows)} | "
              f"{summary['nfe_per_sample']:.0f} | {front} | {volume:.4f} |")
    print("\n| reward | sampler | runs | mean hypervolume |")
    print("|---|---|---|---|")
    for (reward, sampler), volumes in groups.items():
        print(f"| {reward} | {sampler} | {len(volumes)} | {statistics.fmean(volumes):.4f} |")


if __name__ == "__main__":
    main()
