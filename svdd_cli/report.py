"""`svdd report DIR... [--out DIR]`: one table and plots over the runs of a sweep (or several runs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from svdd_cli.assets import asset_root
from svdd_cli.errors import UserError

COLUMNS = ("run", "reward median", "top-10%", "held-out median", "log-lik median", "NFE / sample", "wall s")


def label(summary: dict[str, Any]) -> str:
    """domain/reward/sampler, the sampler settings that differ from its YAML, and the seed."""
    c = summary["choices"]
    default_path = asset_root() / "configs" / "sampler" / f"{c.get('sampler')}.yaml"
    defaults = OmegaConf.to_container(OmegaConf.load(default_path)) if default_path.exists() else {}
    changed = " ".join(f"{k}={v}" for k, v in summary["sampler"].items() if defaults.get(k) != v)
    return " ".join(filter(None, [f"{c.get('domain')}/{c.get('reward')}/{c.get('sampler')}", changed,
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


def row(summary: dict[str, Any]) -> list[str]:
    r, e = summary["reward"], summary["evaluation_reward"]
    ll = summary["naturalness"]["log_likelihood"]
    return [label(summary), fmt(r["median"]), fmt(r["top10"]), fmt(e["median"]), fmt(ll["median"], 1),
            f"{summary['nfe_per_sample']:.0f}", f"{summary['wall_s']:.0f}"]


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
    runs.sort(key=lambda fs: label(fs[1]))
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(s)) + " |" for _, s in runs]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    plot_distributions(runs, out / "reward_distributions.png")
    plot_reward_vs_nfe(runs, out / "reward_vs_nfe.png")
    table = Table(title=f"{len(runs)} runs")
    for name in COLUMNS:
        table.add_column(name, no_wrap=name == "run")
    for _, s in runs:
        table.add_row(*row(s))
    Console().print(table)
    print(f"wrote {out / 'report.md'}, reward_distributions.png, reward_vs_nfe.png")
    return out
