"""Compare samplers at equal compute with one sweep, and print the results table of docs/results.md.

    python scripts/compare_samplers.py                       # DNA / enhancer, 64 samples, svdd M = 20, best_of_n N = 10
    python scripts/compare_samplers.py --samplers ancestral,svdd reward=motifs num_samples=128

Runs `svdd run -m sampler=...` (extra arguments are passed through as overrides), then reads every
run's summary.json and writes results.md next to the runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from svdd_cli.naturalness.headline import headline
from svdd_cli.naturalness.warnings import beyond_real

COLUMNS = ("sampler", "reward median", "reward top-10%", "held-out median", "held-out top-10%",
           "log-lik median", "NFE / sample", "wall s")


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def naturalness_columns(summary: dict, wanted: str) -> list[str]:
    """The naturalness keys to tabulate: 'headline' = the figures the domain leads with (its summary block's
    "headline"), 'all' = every scalar figure, else a comma-separated list of keys."""
    scalars = [k for k, v in summary["naturalness"].items() if isinstance(v, (int, float))]
    if wanted == "all":
        return scalars
    if wanted == "headline":
        return [f.key for f in headline(summary["naturalness"]) if f.key in summary["naturalness"]]
    return wanted.split(",")


def beyond_p99(summary: dict) -> str:
    """The oracle columns whose median is beyond the oracle's real 99th percentile (extrapolating), or '-'."""
    medians = {"reward": summary["reward"], "evaluation_reward": summary["evaluation_reward"],
               **summary.get("evaluations", {})}
    names = [column for column, q in summary.get("real_quantiles", {}).items()
             if (medians.get(column) or {}).get("median") is not None and beyond_real(medians[column]["median"], q)]
    return ", ".join(names) or "-"


def table(summaries: list[dict], wanted: str = "headline") -> str:
    """One row per run; the chosen naturalness figures (3-mer r, GC percentile, FCD, ...) as extra columns, and
    which oracles extrapolate (median beyond their real p99)."""
    extra = naturalness_columns(summaries[0], wanted)
    lines = ["| " + " | ".join([*COLUMNS, *extra, "beyond real p99"]) + " |",
             "|" + "---|" * (len(COLUMNS) + len(extra) + 1)]
    for s in summaries:
        r, e, ll = s["reward"], s["evaluation_reward"], s["naturalness"]["log_likelihood"]
        lines.append("| " + " | ".join([
            s["choices"]["sampler"], fmt(r["median"]), fmt(r["top10"]), fmt(e["median"]), fmt(e["top10"]),
            fmt(ll["median"], 1), f"{s['nfe_per_sample']:.0f}", f"{s['wall_s']:.0f}",
            *(fmt(s["naturalness"].get(k)) for k in extra), beyond_p99(s)]) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samplers", default="ancestral,best_of_n,svdd")
    p.add_argument("--out", type=Path, default=Path("multirun") / f"compare-{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    p.add_argument("--table-only", action="store_true", help="only rewrite results.md from the runs in --out")
    p.add_argument("--naturalness", default="headline",
                   help="naturalness columns: headline (the figures the domain leads with), all, or key,key,...")
    args, overrides = p.parse_known_args()
    command = [sys.executable, "-m", "svdd_cli.cli", "run", "-m", f"sampler={args.samplers}",
               f"hydra.sweep.dir={args.out}", *overrides]
    if not args.table_only:
        print("$ " + " ".join(command[2:]), flush=True)
        returncode = subprocess.run(command).returncode
        if returncode:  # svdd printed why (one line for a user's mistake); no second trace from here
            sys.exit(returncode)
    order = args.samplers.split(",")
    summaries = sorted((json.loads(f.read_text()) for f in args.out.glob("*/summary.json")),
                       key=lambda s: order.index(s["choices"]["sampler"]))
    s0 = summaries[0]
    header = (f"{s0['choices']['domain']} / {s0['choices']['reward']}, {s0['num_samples']} samples, seed {s0['seed']}, "
              f"device {s0['device']}; overrides: {' '.join(overrides) or 'none'}")
    text = header + "\n\n" + table(summaries, args.naturalness) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
