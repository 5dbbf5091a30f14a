"""The reward-naturalness trade-off: sweep svdd's alpha, M and guide window (and smc's alpha) through the CLI,
then plot reward (guidance and, where the domain has one, held-out) against two naturalness figures, with
ancestral, best_of_n and the real data as reference points.

    python scripts/tradeoff.py dna            # runs into tradeoff/dna (skips finished runs), docs/tradeoff_dna.png
    python scripts/tradeoff.py rna            # reward=mfe_surrogate: docs/tradeoff_rna.png
    python scripts/tradeoff.py protein        # reward=gravy, composition distance to held-out proteins
    python scripts/tradeoff.py molecule       # reward=qed, MOSES filters and rings of >= 7 atoms
    python scripts/tradeoff.py image          # reward=classifier, 256 samples per point: FD, confidence
    python scripts/tradeoff.py dna --plot-only

32 samples, 50 steps (molecule: the model's 24), seed 0 per point (about 1 minute each for svdd M=10 on 2 cores
for DNA). DNA/RNA naturalness figures are recomputed from each run's samples.csv with the domain's naturalness
object, so older runs plot too; protein, molecule and image figures are read from the run summaries.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from svdd_cli.assets import asset_root, register_resolver  # noqa: E402
from svdd_cli.naturalness.headline import headline  # noqa: E402

COMMON = ["reference_samples=0", "likelihood_draws=1", "seed=0"]
SVDD = [("M=10 alpha=0", ["sampler.guide_from=0"]),  # every step
        ("M=10 alpha=0.25", ["sampler.guide_from=0", "sampler.alpha=0.25"]),
        ("M=10 alpha=0.5", ["sampler.guide_from=0", "sampler.alpha=0.5"]),
        ("M=10 alpha=1", ["sampler.guide_from=0", "sampler.alpha=1.0"]),
        ("M=10 alpha=1.5", ["sampler.guide_from=0", "sampler.alpha=1.5"]),
        ("M=10 alpha=2", ["sampler.guide_from=0", "sampler.alpha=2.0"]),
        ("M=3", ["sampler.guide_from=0", "sampler.num_candidates=3"]),
        ("M=2", ["sampler.guide_from=0", "sampler.num_candidates=2"]),
        ("M=10 from 0.5", ["sampler.guide_from=0.5"]),  # guide the second half (molecules: every step by default)
        ("M=20 from 0.5", ["sampler.num_candidates=20"]),
        ("M=10 from 0.8", ["sampler.guide_from=0.8"]),
        ("M=20 from 0.8", ["sampler.num_candidates=20", "sampler.guide_from=0.8"]),
        ("M=10 until 0.3", ["sampler.guide_from=0", "sampler.guide_until=0.3"])]
SEQUENCES = ["model.num_steps=50", "num_samples=32", "batch_size=32"]


@dataclass(frozen=True)
class Task:
    """One domain's sweep: its reward, the held-out column (None: no second oracle), run settings and which points
    run. The x axes are the first two figures the domain leads with and their real values, both from the runs'
    naturalness blocks (the domain's "headline", and "real" from the reference beside its checkpoint)."""
    reward: str
    held_out: str | None = "evaluation_reward"
    settings: list[str] = field(default_factory=lambda: SEQUENCES)
    points: tuple[str, ...] | None = None  # point labels; None = every point
    default: str = "svdd M=10 from 0.5"  # the point that `svdd run domain=<domain> reward=<reward>` draws


TASKS = {
    "dna": Task("enhancer"),
    "rna": Task("mfe_surrogate"),
    "protein": Task("gravy", None),
    "molecule": Task("qed", None,
                     ["num_samples=32", "batch_size=32"],  # the model's own 64 steps
                     ("ancestral", "best_of_n N=10", "svdd M=10 alpha=0", "svdd M=10 alpha=1",
                      "svdd M=10 from 0.5", "svdd M=10 from 0.8", "smc alpha=0.1", "smc alpha=1"),
                     "svdd M=10 alpha=0"),  # configs/sampler_domain/svdd_molecule.yaml
    "image": Task("classifier", None,
                  ["model.num_steps=50", "num_samples=256", "batch_size=64"],  # FD needs >= 256 samples
                  ("ancestral", "best_of_n N=10", "svdd M=10 alpha=0", "svdd M=10 alpha=1",
                   "svdd M=10 from 0.5", "svdd M=10 from 0.8")),
}
POINTS = [("ancestral", "ancestral", []), ("best_of_n N=10", "best_of_n", []),
          *((f"svdd {name}", "svdd", o) for name, o in SVDD),
          ("smc alpha=0.1", "smc", []), ("smc alpha=1", "smc", ["sampler.alpha=1.0"])]


def run_point(domain: str, sampler: str, overrides: list[str], folder: Path) -> None:
    """One `svdd run` into folder (skipped when it already finished)."""
    if (folder / "summary.json").exists():
        return
    task = TASKS[domain]
    cmd = [sys.executable, "-m", "svdd_cli.cli", "run", f"domain={domain}", f"reward={task.reward}",
           f"sampler={sampler}", *COMMON, *task.settings, *overrides, f"hydra.run.dir={folder}"]
    print(" ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})


def rows_of(folder: Path) -> list[dict[str, Any]]:
    """samples.csv rows with numbers parsed."""
    def parse(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v
    with open(folder / "samples.csv") as f:
        return [{k: parse(v) for k, v in r.items()} for r in csv.DictReader(f)]


def median(values: list[Any]) -> float:
    return statistics.median(v for v in values if isinstance(v, float))


def plot(domain: str, points: list[dict[str, Any]], figures: list[tuple[str, str]], real: dict[str, Any],
         out: Path) -> None:
    """Panels: (guidance[, held-out]) reward against the two naturalness figures (key, axis title)."""
    held_out = TASKS[domain].held_out
    columns = ["reward"] + ([held_out] if held_out else [])
    fig, axes = plt.subplots(len(columns), 2, figsize=(11, 4.25 * len(columns)), squeeze=False)
    for i, column in enumerate(columns):
        for j, (key, title) in enumerate(figures):
            ax = axes[i][j]
            for p in points:
                style = {"ancestral": ("k", "s"), "best_of_n": ("tab:green", "D"), "smc": ("tab:purple", "^")}
                color, marker = style.get(p["sampler"], ("tab:blue", "o"))
                if p["label"] == TASKS[domain].default:
                    color, marker = "tab:red", "*"
                ax.scatter(p[key], p[column], c=color, marker=marker, s=90 if marker == "*" else 40)
                ax.annotate(p["label"], (p[key], p[column]), fontsize=6, xytext=(3, 3), textcoords="offset points")
            if real.get(key) is not None and real.get(column) is not None:
                ax.scatter(real[key], real[column], c="gold", marker="P", s=120, edgecolors="k", label="real data")
                ax.legend(loc="best", fontsize=7)
            elif real.get(key) is not None:  # no oracle quantiles for real data: its naturalness as a line
                ax.axvline(real[key], color="goldenrod", linestyle="--", label="real data")
                ax.legend(loc="best", fontsize=7)
            ax.set_xlabel(title)
            ax.set_ylabel(f"{'guidance' if column == 'reward' else 'held-out'} reward (median)")
    fig.suptitle(f"{domain}: reward against naturalness ({' '.join(TASKS[domain].settings)}, seed 0)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domain", choices=sorted(TASKS))
    parser.add_argument("--runs", type=Path, help="default tradeoff/<domain>")
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    task = TASKS[args.domain]
    reward, held_out = task.reward, task.held_out
    runs = args.runs or Path("tradeoff") / args.domain
    register_resolver()
    with initialize_config_dir(config_dir=str(asset_root() / "configs"), version_base="1.3"):
        cfg = compose("config", [f"domain={args.domain}", f"reward={reward}", "device=cpu"])
    naturalness = instantiate(cfg.domain.naturalness) if cfg.domain.get("naturalness") else None
    points, last = [], {"real": {}, "oracles": {}}  # last: the naturalness block of the last point
    for label, sampler, overrides in POINTS:
        if task.points is not None and label not in task.points:
            continue
        folder = runs / label.replace(" ", "_").replace("(", "").replace(")", "").replace("=", "")
        if not args.plot_only:
            run_point(args.domain, sampler, overrides, folder)
        if not (folder / "samples.csv").exists():
            continue
        rows = rows_of(folder)
        summary = json.loads((folder / "summary.json").read_text())
        natural = naturalness(rows) if naturalness else {"real": {}, "oracles": {}, **summary["naturalness"]}
        if not headline(natural):  # a summary written before domains declared their headline figures
            continue
        points.append({"label": label, "sampler": sampler, "nfe": summary["nfe_per_sample"],
                       "reward": median([r["reward"] for r in rows]),
                       **({held_out: median([r[held_out] for r in rows])} if held_out else {}),
                       **{f.key: natural.get(f.key) for f in headline(natural)[:2]}})
        last = natural
    if not points:
        sys.exit(f"tradeoff.py: no finished run under {runs} that names its domain's headline figures; run "
                 f"`python scripts/tradeoff.py {args.domain}` (without --plot-only) first")
    figures = [(f.key, f.axis) for f in headline(last)[:2]]
    real = {k: last["real"].get(k) for k, _ in figures}  # the domain's reference at the runs' size
    for column in ("reward", held_out):
        entry = last["oracles"].get(column) if column else None
        real[column] = entry["quantiles"]["p50"] if entry else None
    out = Path("docs") / f"tradeoff_{args.domain}.png"
    plot(args.domain, points, figures, real, out)
    (Path("docs") / f"tradeoff_{args.domain}.json").write_text(json.dumps({"points": points, "real": real}, indent=1))
    held = " held-out median |" if held_out else ""
    print("| point | NFE / sample | reward median |" + held + " " + " | ".join(k for k, _ in figures) + " |")
    print("|---|---|---|" + ("---|" if held_out else "") + "---|" * len(figures))
    cell = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for p in points:
        label = f"{p['label']} (default)" if p["label"] == task.default else p["label"]
        print(f"| {label} | {p['nfe']:.0f} | {p['reward']:.3f} |" + (f" {p[held_out]:.3f} |" if held_out else "")
              + " " + " | ".join(cell(p[k]) for k, _ in figures) + " |")
    print(f"| real data | - | {cell(real['reward'])} |" + (f" {cell(real[held_out])} |" if held_out else "")
          + " " + " | ".join(cell(real[k]) for k, _ in figures) + " |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
