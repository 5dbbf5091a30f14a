"""PMO offline (Gao et al. 2022, "Sample efficiency matters"): svdd beside the field's published results.

    python scripts/bench_pmo.py                                        # 20 tasks x 5 seeds, 10,000 calls each
    python scripts/bench_pmo.py --tasks qed,albuterol_similarity --seeds 0 --budget 200
    python scripts/bench_pmo.py --tasks qed -- sampler.remask_fraction=0.5   # overrides after -- go to every run

Each run is `svdd run +experiment=pmo reward.task=<task> seed=<seed> oracle_budget=<budget>` in
<out>/<task>/seed<seed> (a finished run is reused, so an interrupted benchmark continues). The score of a run is
PMO's: the AUC of the top-10 mean against distinct oracle calls, up to the budget (summary.json
oracle_calls.auc_top10). pmo.md, written into <out>, gets the mean +- sd over seeds per task, the sum, the
published values of GenMol, REINVENT and Graph GA (docs/pmo_published.csv, as those papers report them at 10,000
calls), and for each run's final top-100 the molecule domain's headline figures (MOSES filters, 7-rings), SA and
novelty against the MOSES training set.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from svdd_cli.compose import compose_config
from svdd_cli.naturalness.headline import headline
from svdd_cli.rewards.pmo import TASKS
from svdd_cli.run import run

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "pmo_published.csv"
SHOWN = ("GenMol", "REINVENT", "Graph GA")
EXTRA = (("sa_mean", "SA"), ("novelty", "novelty"))  # beside the domain's headline figures (MOSES filters, ...)


def one_run(task: str, seed: int, budget: int, folder: Path, overrides: list[str]) -> dict:
    """The run's summary.json (drawn unless the folder holds a finished one)."""
    summary = folder / "summary.json"
    if summary.exists() and json.loads(summary.read_text())["status"] == "finished":
        return json.loads(summary.read_text())
    cfg = compose_config(["+experiment=pmo", f"reward.task={task}", f"seed={seed}", f"oracle_budget={budget}",
                          *overrides])
    run(cfg, folder, {"domain": "molecule", "reward": f"pmo/{task}", "sampler": "evolve"})
    return json.loads(summary.read_text())


def published() -> dict[str, dict[str, float]]:
    """task -> method -> published AUC top-10 (PyTDC's task names)."""
    with open(PUBLISHED, newline="") as f:
        return {row["Oracle"].replace(" ", "_").lower(): {m: float(row[m]) for m in SHOWN} for row in csv.DictReader(f)}


def mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} +- {statistics.stdev(values) if len(values) > 1 else 0:.3f}"


def table(results: dict[str, list[dict]], budget: int, seeds: list[int], overrides: list[str]) -> str:
    """pmo.md: one row per task, the sums, the command."""
    known = published()
    first = next(iter(results.values()))[0]["naturalness"]
    natural = [(f.key, f.column) for f in headline(first)] + list(EXTRA)
    head = ["task", "svdd (AUC top-10)", *SHOWN, *(label for _, label in natural)]
    lines = [f"# PMO offline: {len(results)} task(s), {len(seeds)} seed(s), {budget} distinct oracle calls", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sums = {"svdd": 0.0, **{m: 0.0 for m in SHOWN}}
    for task, summaries in results.items():
        aucs = [s["oracle_calls"]["auc_top10"] for s in summaries]
        sums["svdd"] += statistics.fmean(aucs)
        theirs = known.get(task, {})
        for m in SHOWN:
            sums[m] += theirs.get(m, 0.0)
        figures = [statistics.fmean(s["naturalness"][k] for s in summaries) if all(k in s["naturalness"]
                   for s in summaries) else None for k, _ in natural]
        lines.append("| " + " | ".join([task, mean_sd(aucs), *(f"{theirs[m]:.3f}" if m in theirs else "-"
                                                                 for m in SHOWN),
                                        *("-" if v is None else f"{v:.3f}" for v in figures)]) + " |")
    lines.append("| **sum** | " + " | ".join(f"**{sums[k]:.3f}**" for k in sums) + " |" + " |" * len(natural))
    command = " ".join(["python scripts/bench_pmo.py", f"--tasks {','.join(results)}",
                        f"--seeds {','.join(map(str, seeds))}", f"--budget {budget}",
                        *(["--", *overrides] if overrides else [])])
    return "\n".join([*lines, "", f"Command: `{command}`. Published values: PMO paper Table 3 and GenMol's paper "
                      "(mean of 5 seeds, 10,000 calls); naturalness: each run's final top-100, mean over seeds.", ""])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated PyTDC task names (default: all 20)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--budget", type=int, default=10_000, help="distinct oracle calls per run")
    parser.add_argument("--out", type=Path, default=Path("results/pmo"))
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        sys.exit(f"--tasks: {unknown[0]!r} is not an offline PMO task; use any of {', '.join(TASKS)}")
    results = {t: [one_run(t, s, args.budget, args.out / t / f"seed{s}", overrides) for s in seeds] for t in tasks}
    text = table(results, args.budget, seeds, overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pmo.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
