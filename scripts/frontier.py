"""The frontier: reward against compute for every gradient-free sampler, compute-matched by nfe_per_sample.

    python scripts/frontier.py domain=dna reward=enhancer                 # 4 budgets x 3 seeds, 64 samples
    python scripts/frontier.py domain=molecule reward=qed --budgets 250,500 --seeds 0 num_samples=32
    python scripts/frontier.py domain=dna reward=enhancer --in-process    # one process, no Hydra launcher

Default: one Hydra multirun `svdd run -m sampler=... nfe_per_sample=... seed=...` (extra key=value arguments are
passed through), then `svdd report` over it. --in-process draws the same points in this process through
svdd_cli.api.steer (the core `svdd run` is a layer over) and writes each point's run folder, so the table, the plot
and `svdd report` read either. Writes into --out:
frontier.md (one row per sampler and budget: seeds' mean of the median reward, top-10%, held-out median,
log-likelihood, distinct samples, NFE spent, wall time, and the ratio (r - ancestral) / (best_of_n - ancestral))
and frontier.png (reward median vs NFE per sample, one line per sampler, each seed a dot).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from svdd_cli.naturalness.headline import headline

SAMPLERS = "ancestral,best_of_n,svdd,svdd_r,refine,tree,particle_gibbs,beam,smc,fk,nested_is"


def in_process(samplers: list[str], budgets: list[int], seeds: list[int], overrides: list[str], out: Path) -> None:
    """Every (sampler, budget, seed) point drawn in this process through api.steer, as `svdd run` would with
    nfe_per_sample set (same parts, seeds and run folder)."""
    import torch

    from svdd_cli.api import steer
    from svdd_cli.compose import compose_config
    from svdd_cli.errors import UserError
    from svdd_cli.run import build, settings

    torch.set_num_threads(1)
    job = 0
    for sampler in samplers:
        for budget in budgets:
            for seed in seeds:
                cfg = compose_config([f"sampler={sampler}", f"seed={seed}", f"nfe_per_sample={budget}", *overrides])
                parts, config = build(cfg), vars(settings(cfg))
                choices = {"domain": overrides_value(overrides, "domain", "dna"),
                           "reward": overrides_value(overrides, "reward"), "sampler": sampler}
                try:
                    result = steer(parts.model, parts.reward, parts.sampler, domain=parts.domain,
                                   evaluation=parts.evaluation, out=out / f"{job}-{sampler}-{budget}-{seed}",
                                   labels=choices, constraints=parts.constraints, natural=parts.natural, **config)
                except UserError as err:  # below this sampler's minimum: no point
                    print(f"{sampler} budget={budget}: skipped, {err}", flush=True)
                    continue
                summary = result.summary
                print(f"{sampler} budget={budget} seed={seed}: reward median {summary['reward']['median']:.3f}, "
                      f"NFE/sample {summary['nfe_per_sample']:.0f}, {summary['wall_s']:.0f} s", flush=True)
                job += 1


def overrides_value(overrides: list[str], key: str, default: str = "enhancer") -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), default)


def points(out: Path) -> list[dict[str, Any]]:
    """One dict per finished run under out: sampler, budget, seed and the figures of the table."""
    found = []
    for path in sorted(out.glob("*/summary.json")):
        s = json.loads(path.read_text())
        budget = s.get("nfe_budget") or s.get("budget") or s.get("settings", {}).get("nfe_per_sample")
        hydra_cfg = path.parent / ".hydra" / "config.yaml"
        if budget is None and hydra_cfg.exists():
            from omegaconf import OmegaConf
            budget = OmegaConf.load(hydra_cfg).get("nfe_per_sample")
        with open(path.parent / "samples.csv") as f:
            samples = [row[1] for row in list(csv.reader(f))[1:]]
        found.append({"sampler": s["choices"]["sampler"], "budget": budget, "seed": s["seed"],
                      "median": s["reward"]["median"], "top10": s["reward"]["top10"],
                      "heldout": s["evaluation_reward"]["median"],
                      "loglik": s["naturalness"]["log_likelihood"]["median"],
                      "distinct": len(set(samples)) / max(len(samples), 1),
                      "figures": headline(s["naturalness"]),  # what the domain leads with, from its summary
                      "natural": {f.key: s["naturalness"].get(f.key) for f in headline(s["naturalness"])},
                      "nfe": s["nfe_per_sample"], "wall": s["wall_s"], "domain": s["choices"]["domain"],
                      "reward": s["choices"]["reward"], "n": s["num_samples"]})
    return found


def mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(found: list[dict[str, Any]], order: list[str]) -> str:
    """Markdown: one row per sampler and budget, seeds averaged; the ratio over best_of_n at the same budget."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for p in found:
        groups[(p["sampler"], p["budget"])].append(p)
    base = mean([p["median"] for p in found if p["sampler"] == "ancestral"])
    figures = next((p["figures"] for p in found if p["figures"]), [])
    lines = ["| sampler | budget | reward median | top-10% | held-out median | log-lik | distinct | "
             + "".join(f"{f.column} | " for f in figures)
             + "NFE / sample | wall s | seeds | (r - anc) / (bon - anc) |",
             "|" + "---|" * (11 + len(figures))]
    for (sampler, budget), ps in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1] or 0)):
        med = mean([p["median"] for p in ps])
        bon = mean([p["median"] for p in groups.get(("best_of_n", budget), [])])
        ratio = None if None in (med, bon, base) or bon == base else (med - base) / (bon - base)
        lines.append("| " + " | ".join([
            sampler, str(budget), fmt(med), fmt(mean([p["top10"] for p in ps])), fmt(mean([p["heldout"] for p in ps])),
            fmt(mean([p["loglik"] for p in ps]), 1), fmt(mean([p["distinct"] for p in ps]), 2),
            *(fmt(mean([p["natural"].get(f.key) for p in ps]), 2) for f in figures),
            fmt(mean([p["nfe"] for p in ps]), 0), fmt(mean([p["wall"] for p in ps]), 0), str(len(ps)),
            fmt(ratio, 2)]) + " |")
    return "\n".join(lines)


def plot(found: list[dict[str, Any]], order: list[str], path: Path) -> None:
    """Reward median vs NFE per sample: a line through the seeds' mean per sampler, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, sampler in enumerate(s for s in order if any(p["sampler"] == s for p in found)):
        ps = [p for p in found if p["sampler"] == sampler]
        color = f"C{i % 10}"
        ax.scatter([p["nfe"] for p in ps], [p["median"] for p in ps], color=color, s=12, alpha=0.6)
        budgets = sorted({p["budget"] for p in ps})
        xs = [mean([p["nfe"] for p in ps if p["budget"] == b]) for b in budgets]
        ys = [mean([p["median"] for p in ps if p["budget"] == b]) for b in budgets]
        ax.plot(xs, ys, color=color, label=sampler, marker="o" if len(xs) == 1 else None)
    first = found[0]
    ax.set(xscale="log", xlabel="NFE per sample", ylabel="reward median",
           title=f"{first['domain']} / {first['reward']}: reward vs compute ({first['n']} samples per point)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samplers", default=SAMPLERS)
    p.add_argument("--budgets", default="100,250,500,1000", help="nfe_per_sample values")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", type=Path, default=Path("multirun") / f"frontier-{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    p.add_argument("--in-process", action="store_true", help="draw the points here instead of `svdd run -m`")
    p.add_argument("--table-only", action="store_true", help="only rewrite frontier.md/png from the runs in --out")
    args, overrides = p.parse_known_args()
    order = args.samplers.split(",")
    budgets, seeds = [int(b) for b in args.budgets.split(",")], [int(s) for s in args.seeds.split(",")]
    if not args.table_only and args.in_process:
        in_process(order, budgets, seeds, overrides, args.out)
    elif not args.table_only:
        command = [sys.executable, "-m", "svdd_cli.cli", "run", "-m", f"sampler={args.samplers}",
                   f"nfe_per_sample={args.budgets}", f"seed={args.seeds}", f"hydra.sweep.dir={args.out}", *overrides]
        print("$ " + " ".join(command[2:]), flush=True)
        subprocess.run(command, check=True)
    subprocess.run([sys.executable, "-m", "svdd_cli.cli", "report", str(args.out), "--out", str(args.out / "report")],
                   check=False)
    found = points(args.out)
    text = (f"{found[0]['domain']} / {found[0]['reward']}, {found[0]['n']} samples per point, seeds {args.seeds}; "
            f"overrides: {' '.join(overrides) or 'none'}\n\n{table(found, order)}\n")
    (args.out / "frontier.md").write_text(text)
    plot(found, order, args.out / "frontier.png")
    print(text)


if __name__ == "__main__":
    main()
