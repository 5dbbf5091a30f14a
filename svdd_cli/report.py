"""`svdd report DIR... [--out DIR]`: one table and plots over the runs of a sweep (or several runs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

from svdd_cli.errors import UserError

COLUMNS = ("run", "reward median", "top-10%", "held-out median", "log-lik median", "NFE / sample", "wall s")
# naturalness figures shown when a run has them: (key in summary["naturalness"], column title)
NATURAL = (("kmer3_r_hepg2", "3-mer r HepG2 (real)"), ("gc_median", "GC median (real p5..p95)"),
           ("gc_percentile", "GC pct"), ("kmer3_distance", "3-mer dist (real)"),
           ("kozak_purine_rate", "Kozak -3 AG (real)"), ("mfe_percentile", "MFE pct (real)"),
           ("hamming_diversity", "diversity (real)"), ("frechet_distance", "FD (real)"))


def sampler_key(summary: dict[str, Any]) -> str:
    return str(summary["choices"].get("sampler", summary["sampler"].get("_target_", "?")))


def varying(runs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Sampler choice -> the sampler settings whose values differ between the runs of that sampler."""
    values: dict[str, dict[str, set[str]]] = {}
    for s in runs:
        for k, v in s["sampler"].items():
            values.setdefault(sampler_key(s), {}).setdefault(k, set()).add(repr(v))
    return {name: {k for k, vs in keys.items() if len(vs) > 1} for name, keys in values.items()}


def setting(value: Any) -> str:
    """A sampler setting as a label shows it: a config-group node ({"_target_": "pkg.module.name", ...}) by the
    name its target ends in (sampler/resampling=systematic -> "systematic", potential=max -> "RunningMax"),
    anything else as it is."""
    if isinstance(value, dict) and "_target_" in value:
        return str(value["_target_"]).rsplit(".", 1)[-1]
    return str(value)


def label(summary: dict[str, Any], keys: set[str] = frozenset()) -> str:
    """domain/reward/sampler, the sampler settings in `keys` (those that vary in this report), and the seed."""
    c = summary["choices"]
    changed = " ".join(f"{k}={setting(summary['sampler'][k])}" for k in sorted(keys) if k in summary["sampler"])
    return " ".join(filter(None, [f"{c.get('domain')}/{c.get('reward')}/{sampler_key(summary)}", changed,
                                  f"seed={summary['seed']}"]))


def load_runs(dirs: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, summary) of every finished run under dirs; shards count once, through `svdd merge`."""
    runs = []
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"no such folder: {d}")
        for path in sorted(d.rglob("summary.json")):
            summary = json.loads(path.read_text())
            state = path.parent / "state.json"  # a shard's own folder; merged folders have none
            shard = state.exists() and json.loads(state.read_text())["settings"]["num_shards"] > 1
            if summary["status"] == "finished" and not shard:
                runs.append((path.parent, summary))
    if not runs:
        raise UserError(f"no finished runs (summary.json) under {', '.join(map(str, dirs))}")
    return runs


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def natural_columns(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The NATURAL figures at least one run has, and every extra evaluation column (evaluation_<name>)."""
    extra = sorted({c for s in runs for c in s.get("evaluations", {}) if c != "evaluation_reward"})
    figures = [(k, t) for k, t in NATURAL if any(s["naturalness"].get(k) is not None for s in runs)]
    return [(c, f"{c.removeprefix('evaluation_')} median") for c in extra] + figures


def natural_cell(summary: dict[str, Any], key: str) -> str:
    """'value (real)' of a naturalness figure, or the median of an extra evaluation column."""
    if key.startswith("evaluation_"):
        return fmt(summary.get("evaluations", {}).get(key, {}).get("median"))
    n = summary["naturalness"]
    if n.get(key) is None:
        return "-"
    real = n.get("real_range", {}).get(key) if key == "gc_median" else n.get("real", {}).get(key)
    shown = "" if real is None or key == "gc_percentile" else \
        f" ({real[0]:.3g}..{real[1]:.3g})" if isinstance(real, list) else f" ({real:.3g})"  # gc: both bounds
    return f"{n[key]:.3g}{shown}"


def row(summary: dict[str, Any], keys: set[str], natural: list[tuple[str, str]]) -> list[str]:
    r, e = summary["reward"], summary["evaluation_reward"]
    ll = summary["naturalness"]["log_likelihood"]
    return [label(summary, keys), fmt(r["median"]), fmt(r["top10"]), fmt(e["median"]), fmt(ll["median"], 1),
            f"{summary['nfe_per_sample']:.0f}", f"{summary['wall_s']:.0f}",
            *(natural_cell(summary, k) for k, _ in natural)]


def rewards(folder: Path) -> list[float]:
    with open(folder / "samples.csv") as f:
        return [float(r["reward"]) for r in csv.DictReader(f)]


def by_task(runs: list[tuple[Path, dict[str, Any]]]) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Runs grouped by domain/reward: rewards of different tasks do not share an axis."""
    groups: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for folder, s in runs:
        groups.setdefault(f"{s['choices'].get('domain')}/{s['choices'].get('reward')}", []).append((folder, s))
    return groups


def plot_distributions(runs: list[tuple[Path, dict[str, Any]]], path: Path) -> None:
    """Box plots of every run's rewards, one panel per domain/reward."""
    groups = by_task(runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(max(6, 1.1 * len(runs) + 1), 4), squeeze=False)
    for ax, (task, group) in zip(axes[0], groups.items()):
        ax.boxplot([rewards(f) for f, _ in group], showfliers=False)
        ax.set_xticks(range(1, len(group) + 1),
                      [f"{s['choices'].get('sampler', '?')} s{s['seed']}" for _, s in group], rotation=40, ha="right")
        ax.set_title(task)
        ax.set_ylabel("reward")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_reward_vs_nfe(runs: list[tuple[Path, dict[str, Any]]], path: Path) -> None:
    """Median reward against NFE per sample, one panel per domain/reward and one line per sampler through the
    mean over seeds (M or N grows along it); each run is a dot."""
    groups = by_task(runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (task, group) in zip(axes[0], groups.items()):
        by_sampler: dict[str, dict[float, list[float]]] = {}
        for _, s in group:
            nfe = by_sampler.setdefault(s["choices"].get("sampler", "?"), {})
            nfe.setdefault(s["nfe_per_sample"], []).append(s["reward"]["median"])
        for name, points in sorted(by_sampler.items()):
            nfes = sorted(points)
            line, = ax.plot(nfes, [sum(points[n]) / len(points[n]) for n in nfes], marker="o", label=name)
            ax.scatter([n for n in nfes for _ in points[n]], [m for n in nfes for m in points[n]],
                       color=line.get_color(), alpha=0.4, s=12)
        ax.set_xscale("log")
        ax.set_xlabel("network evaluations per sample")
        ax.set_ylabel("median reward")
        ax.set_title(task)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(dirs: list[Path], out: Path) -> Path:
    """Write report.md, reward_distributions.png and reward_vs_nfe.png into `out`; print a rich table."""
    runs = load_runs(dirs)
    keys = varying([s for _, s in runs])
    runs.sort(key=lambda fs: label(fs[1], keys[sampler_key(fs[1])]))
    natural = natural_columns([s for _, s in runs])
    columns = (*COLUMNS, *(t for _, t in natural))
    rows = [row(s, keys[sampler_key(s)], natural) for _, s in runs]
    warned = [(r[0], w) for r, (_, s) in zip(rows, runs) for w in s.get("warnings", [])]
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if warned:
        lines += ["", "Warnings:", *(f"- {name}: {w}" for name, w in warned)]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    plot_distributions(runs, out / "reward_distributions.png")
    plot_reward_vs_nfe(runs, out / "reward_vs_nfe.png")
    table = Table(title=f"{len(runs)} runs")
    for name in columns:
        table.add_column(name, no_wrap=name == "run")
    for r in rows:
        table.add_row(*r)
    console = Console()
    console.print(table)
    for name, w in warned:
        console.print(f"[yellow]warning[/] {name}: {w}", highlight=False)
    print(f"wrote {out / 'report.md'}, reward_distributions.png, reward_vs_nfe.png")
    return out
