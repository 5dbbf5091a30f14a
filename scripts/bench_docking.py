"""An expensive oracle end to end: PARP1 designs from AutoDock Vina at a budget of distinct calls, svdd's search
(`+experiment=molecule_docking`: evolve + the GP surrogate, MOSES filters as constraints) beside best_of_n with the
same budget, oracle, constraints and re-docking (on the shipped molecule model's own nucleus, top_p 0.8).

    python scripts/bench_docking.py                               # seed 0, 500 Vina calls, 64 designs each
    python scripts/bench_docking.py --budget 40 --designs 8 -- reward.evaluation.exhaustiveness=1   # a quick check

Each run goes to <out>/<method>/seed<seed> (a finished run is reused). docking.md, written into <out>, has one row per
run: distinct Vina calls, the designs' median / top-10 / best Vina score (kcal/mol, lower binds tighter) as the
search saw them and their median re-docked (the experiment's `reward.evaluation`), the molecule domain's headline
figures (MOSES filters, 7-rings), the search's wall time (summary.json wall_s: the re-docking comes after it) and
the share of it spent inside Vina (oracle_calls.oracle_s / wall_s; summary.json's oracle_share divides by the whole
sitting, re-docking included).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from svdd_cli.compose import compose_config
from svdd_cli.domains.molecule.domain import HEADLINE
from svdd_cli.run import run

EXPERIMENT = "+experiment=molecule_docking"
HEAD = ["method", "seed", "Vina calls", "median (kcal/mol)", "top-10", "best", "median re-docked",
        *(f.column for f in HEADLINE), "search (min)", "Vina share"]


def methods(budget: int, designs: int) -> dict[str, list[str]]:
    """method -> its overrides (besides seed and the common ones)."""
    common = [EXPERIMENT, f"oracle_budget={budget}", f"num_samples={designs}", f"batch_size={designs}"]
    evolve_only = (set(compose_config([*common, "sampler=best_of_n"]).sampler)  # the experiment's evolve settings
                   - set(compose_config(["sampler=best_of_n"]).sampler))
    return {"evolve": common,
            "best_of_n": [*common, "sampler=best_of_n", *(f"~sampler.{key}" for key in sorted(evolve_only)),
                          f"sampler.num_candidates={math.ceil(budget / designs)}", "model.top_p=0.8"]}


def one_run(method: str, overrides: list[str], folder: Path) -> list[str]:
    """The run's row of docking.md (drawn unless the folder holds a finished one)."""
    summary = folder / "summary.json"
    if not (summary.exists() and json.loads(summary.read_text())["status"] == "finished"):
        run(compose_config(overrides), folder)
    done = json.loads(summary.read_text())
    calls, reward = done["oracle_calls"], done["reward"]
    scores = [-reward["median"], -reward["top10"], -reward["max"], -done["evaluation_reward"]["median"]]
    return [method, str(done["seed"]), str(calls["distinct"]), *(f"{s:.2f}" for s in scores),
            *(f"{done['naturalness'].get(f.key, float('nan')):.2f}" for f in HEADLINE), f"{done['wall_s'] / 60:.1f}",
            f"{calls['oracle_s'] / done['wall_s']:.2f}"]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--budget", type=int, default=compose_config([EXPERIMENT]).oracle_budget,
                        help="distinct Vina calls per run (default: the experiment's)")
    parser.add_argument("--designs", type=int, default=64, help="designs per run (the population)")
    parser.add_argument("--methods", default="evolve,best_of_n")
    parser.add_argument("--out", type=Path, default=Path("results/docking"))
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # each run's progress lines
    known = methods(args.budget, args.designs)
    chosen = args.methods.split(",")
    unknown = [m for m in chosen if m not in known]
    if unknown or args.budget < 1 or args.designs < 1:
        sys.exit(f"--methods {unknown[0]!r}: use any of {', '.join(known)}" if unknown
                 else "--budget and --designs must be >= 1")
    rows = [one_run(m, [*known[m], f"seed={seed}", *extra], args.out / m / f"seed{seed}")
            for seed in (int(s) for s in args.seeds.split(",")) for m in chosen]
    command = " ".join(["python scripts/bench_docking.py", f"--seeds {args.seeds}", f"--budget {args.budget}",
                        f"--designs {args.designs}", *(["--", *extra] if extra else [])])
    text = "\n".join(["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD),
                      *("| " + " | ".join(r) + " |" for r in rows), "", f"Command: `{command}`", ""])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "docking.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
