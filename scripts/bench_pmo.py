"""PMO offline (Gao et al. 2022, "Sample efficiency matters"): svdd beside the field's published results.

    python scripts/bench_pmo.py                                        # 20 tasks x 5 seeds, 10,000 calls each
    python scripts/bench_pmo.py --tasks qed,albuterol_similarity --seeds 0 --budget 200
    python scripts/bench_pmo.py --tasks qed -- sampler.remask_fraction=0.5   # overrides after -- go to every run
    python scripts/bench_pmo.py --jobs 2 --record docs/pmo_runs.csv          # 2 runs at a time; keep each run's row

Each run is `svdd run +experiment=pmo reward.task=<task> seed=<seed> oracle_budget=<budget>` in
<out>/<task>/seed<seed> (a finished run is reused, so an interrupted benchmark continues); `--jobs N` runs N at a
time, each in its own process with cores / N torch threads. `--record FILE` keeps one CSV row per finished run
(task, seed, budget, overrides, a hash of the model and sampler settings, scores, top-100 figures): a run
recorded there with the same settings is not drawn again, so the table can grow over several sittings from a file
small enough to commit. The score of a run is PMO's: the AUC of the top-10 mean against distinct oracle calls, up
to the budget (summary.json oracle_calls.auc_top10). pmo.md, written into <out>, gets the mean +- sd over seeds per
task, the sum, the published values of GenMol, REINVENT and Graph GA (docs/pmo_published.csv, as those papers
report them at 10,000 calls), and for each run's final top-100 the molecule domain's headline figures (MOSES
filters, 7-rings), SA and novelty against the MOSES training set.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from svdd_cli.compose import compose_config
from svdd_cli.domains.molecule.domain import HEADLINE
from svdd_cli.rewards.pmo import TASKS
from svdd_cli.run import run

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "pmo_published.csv"
SHOWN = ("GenMol", "REINVENT", "Graph GA")
FIGURES = [(f.key, f.column) for f in HEADLINE] + [("sa_mean", "SA"), ("novelty", "novelty")]  # of the top-100
FIELDS = ["task", "seed", "budget", "overrides", "setup", "auc_top10", "top10", "top1", "distinct", "wall_s",
          *(key for key, _ in FIGURES)]


def composed(task: str, seed: int, budget: int, overrides: list[str]) -> DictConfig:
    return compose_config(["+experiment=pmo", f"reward.task={task}", f"seed={seed}", f"oracle_budget={budget}",
                           *overrides])


def setup(cfg: DictConfig) -> str:
    """A short hash of the model and sampler settings: a record made with other settings is not reused."""
    text = OmegaConf.to_yaml(cfg.model) + OmegaConf.to_yaml(cfg.sampler)  # unresolved: the same in any clone
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def one_run(task: str, seed: int, budget: int, folder: Path, overrides: list[str]) -> dict[str, object]:
    """The run's record (drawn unless the folder holds a finished one): FIELDS."""
    summary = folder / "summary.json"
    cfg = composed(task, seed, budget, overrides)
    if not (summary.exists() and json.loads(summary.read_text())["status"] == "finished"):
        run(cfg, folder, {"domain": "molecule", "reward": f"pmo/{task}", "sampler": "evolve"})
    done = json.loads(summary.read_text())
    calls, natural = done["oracle_calls"], done["naturalness"]
    return {"task": task, "seed": seed, "budget": budget, "overrides": " ".join(overrides), "setup": setup(cfg),
            **{k: calls[k] for k in ("auc_top10", "top10", "top1", "distinct")}, "wall_s": round(done["wall_s"], 1),
            **{key: natural.get(key, "") for key, _ in FIGURES}}


def recorded(path: Path | None) -> list[dict[str, str]]:
    """The rows of a --record file (none when it is absent)."""
    if path is None or not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def keep(path: Path | None, row: dict[str, object]) -> None:
    """Append one run's row to the --record file (with its header when new)."""
    if path is None:
        return
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def run_all(runs: list[tuple[str, int]], budget: int, out: Path, overrides: list[str], jobs: int,
            record: Path | None) -> list[dict[str, object]]:
    """Every (task, seed) run's record, `jobs` at a time, each appended to `record` as it finishes."""
    args = [(task, seed, budget, out / task / f"seed{seed}", overrides) for task, seed in runs]
    if jobs == 1:
        rows = [one_run(*a) for a in args]
        for row in rows:
            keep(record, row)
        return rows
    threads = max(1, (os.cpu_count() or 1) // jobs)
    rows = []
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=torch.set_num_threads,
                             initargs=(threads,)) as pool:
        for future in as_completed([pool.submit(one_run, *a) for a in args]):
            rows.append(future.result())
            keep(record, rows[-1])
            print(f"{rows[-1]['task']} seed {rows[-1]['seed']}: AUC top-10 {float(rows[-1]['auc_top10']):.3f}",
                  flush=True)
    return rows


def published() -> dict[str, dict[str, float]]:
    """task -> method -> published AUC top-10 (PyTDC's task names)."""
    with open(PUBLISHED, newline="") as f:
        return {row["Oracle"].replace(" ", "_").lower(): {m: float(row[m]) for m in SHOWN} for row in csv.DictReader(f)}


def mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} +- {statistics.stdev(values) if len(values) > 1 else 0:.3f}"


def table(rows: list[dict], tasks: list[str], budget: int, seeds: list[int], overrides: list[str]) -> str:
    """pmo.md: one row per task (mean over its seeds' rows), the sums, the command."""
    known = published()
    head = ["task", "svdd (AUC top-10)", *SHOWN, *(label for _, label in FIGURES)]
    lines = [f"# PMO offline: {len(tasks)} task(s), {len(seeds)} seed(s), {budget} distinct oracle calls", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sums = {"svdd": 0.0, **{m: 0.0 for m in SHOWN}}
    for task in tasks:
        mine = [r for r in rows if r["task"] == task]
        aucs = [float(r["auc_top10"]) for r in mine]
        sums["svdd"] += statistics.fmean(aucs)
        theirs = known.get(task, {})
        for m in SHOWN:
            sums[m] += theirs.get(m, 0.0)
        figures = [statistics.fmean(float(r[k]) for r in mine) if all(r[k] != "" for r in mine) else None
                   for k, _ in FIGURES]
        lines.append("| " + " | ".join([task, mean_sd(aucs), *(f"{theirs[m]:.3f}" if m in theirs else "-"
                                                                 for m in SHOWN),
                                        *("-" if v is None else f"{v:.3f}" for v in figures)]) + " |")
    lines.append("| **sum** | " + " | ".join(f"**{sums[k]:.3f}**" for k in sums) + " |" + " |" * len(FIGURES))
    command = " ".join(["python scripts/bench_pmo.py", f"--tasks {','.join(tasks)}",
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
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process")
    parser.add_argument("--record", type=Path, help="CSV of finished runs: kept up to date, recorded runs reused")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        sys.exit(f"--tasks: {unknown[0]!r} is not an offline PMO task; use any of {', '.join(TASKS)}")
    if args.jobs < 1:
        sys.exit(f"--jobs {args.jobs}: runs at a time must be >= 1")
    same, settings = " ".join(overrides), setup(composed(tasks[0], seeds[0], args.budget, overrides))
    old = [r for r in recorded(args.record) if int(r["budget"]) == args.budget and r["overrides"] == same
           and r["setup"] == settings and r["task"] in tasks and int(r["seed"]) in seeds]
    done = {(r["task"], int(r["seed"])) for r in old}
    todo = [(t, s) for t in tasks for s in seeds if (t, s) not in done]
    rows = old + run_all(todo, args.budget, args.out, overrides, args.jobs, args.record)
    text = table(rows, tasks, args.budget, seeds, overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pmo.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
