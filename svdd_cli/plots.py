"""Run plots (matplotlib, PNG): reward distribution against the pre-trained model's, reward along steps."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
