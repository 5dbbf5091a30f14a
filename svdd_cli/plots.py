"""Run plots (matplotlib, PNG): reward distribution against the pre-trained model's, reward along steps."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from svdd_cli.fronts import pareto_ranks  # noqa: E402

if TYPE_CHECKING:
    from torch import Tensor

    from svdd_cli.fronts import Objectives


def reward_histogram(rewards: list[float], reference: list[float], label: str, path: Path, title: str = "",
                     oracle: str = "reward", real: dict[str, Any] | None = None) -> plt.Figure:
    """Histogram of this run's rewards (`label`) over the reference (ancestral) rewards, under `title`, the x axis
    named by the `oracle`; `real`: the oracle's quantiles on real data ({"p99", "data", ...}), marked at the
    99th percentile. A NaN reward (an output the oracle never saw: oracle_budget) is left out. Returns the
    (closed) figure."""
    rewards = [r for r in rewards if math.isfinite(r)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bins = 30
    if reference:
        ax.hist(reference, bins=bins, alpha=0.5, density=True, label=f"pre-trained (n={len(reference)})")
    if rewards:
        ax.hist(rewards, bins=bins, alpha=0.6, density=True, label=f"{label} (n={len(rewards)})")
    if real is not None:
        ax.axvline(real["p99"], color="black", linestyle="--", label=f"real data p99: {real['p99']:.3g}\n"
                                                                     f"({real['data']})")
    ax.set_title(title)
    ax.set_xlabel(oracle)
    ax.set_ylabel("density")
    if rewards or reference or real is not None:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def reward_along_steps(trace: list[dict[str, Any]], path: Path) -> bool:
    """Mean / max reward of x0-hat over candidates at each step, averaged over batches.
    Returns False (and writes nothing) when the sampler traced no values (e.g. ancestral)."""
    by_step: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in trace:
        if "value_mean" in record and isinstance(record["step"], int):
            by_step[record["step"]].append(record)
    if not by_step:
        return False
    steps = sorted(by_step)
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("value_mean", "mean over candidates"), ("value_max", "max over candidates"),
                       ("kept_mean", "kept candidates")):
        ax.plot(steps, [sum(r.get(key, math.nan) for r in by_step[s]) / len(by_step[s]) for s in steps], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("reward of x0-hat")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def pareto_front(objectives: Objectives, runs: dict[str, list[dict[str, Any]]], path: Path, title: str = "",
                 reference: Tensor | None = None, real: Tensor | None = None) -> plt.Figure:
    """The first two objectives of each run's samples.csv rows (label -> rows; raw values, as the terms give
    them), its front (the points no other point of the run dominates) joined as a staircase, `reference` (n, K)
    raw values of the pre-trained model's samples in grey and `real` (n, K) raw values of real held-out samples as
    black crosses. Returns the (closed) figure."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if reference is not None and len(reference):
        ax.scatter(reference[:, 0].tolist(), reference[:, 1].tolist(), s=12, color="0.7",
                   label=f"pre-trained (n={len(reference)})")
    if real is not None and len(real):
        ax.scatter(real[:, 0].tolist(), real[:, 1].tolist(), s=14, marker="x", color="black", linewidths=0.8,
                   label=f"real held-out (n={len(real)})")
    for k, (name, rows) in enumerate(runs.items()):
        raw, ranks = objectives.raw_rows(rows), pareto_ranks(objectives.from_rows(rows))
        colour = plt.get_cmap("tab10")(k % 10)
        ax.scatter(raw[:, 0].tolist(), raw[:, 1].tolist(), s=14, alpha=0.5, color=colour,
                   label=f"{name} (n={len(rows)})")
        front = sorted(tuple(raw[i, :2].tolist()) for i, r in enumerate(ranks) if r == 0)
        if front:  # the staircase that bounds what the front attains (2 objectives: exact)
            ax.step([p[0] for p in front], [p[1] for p in front], where="pre" if objectives.maximise[0] else "post",
                    color=colour, linewidth=1.5)
            ax.scatter([p[0] for p in front], [p[1] for p in front], s=30, color=colour, edgecolor="black")
    names = [f"{n} ({'higher' if up else 'lower'} is better)" for n, up in zip(objectives.names, objectives.maximise)]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    extra = f"\n(the first 2 of {len(names)} objectives)" if len(names) > 2 else ""
    ax.set_title(title + extra, fontsize="small")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig

