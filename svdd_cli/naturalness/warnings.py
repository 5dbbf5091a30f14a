"""One-line warnings of over-optimisation: an oracle scored beyond real data, or reward bought with naturalness.

Each learned oracle ships the quantiles (p1, p5, p50, p95, p99) of its scores on real held-out data
(real_quantiles.json beside its checkpoint, declared in the domain's YAML per samples.csv column). A design
set whose median is beyond the real p99 is outside what the oracle was fitted on: it is extrapolating.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from svdd_cli.naturalness.reference import load_reference


def load_quantiles(files: dict[str, str | Path] | None) -> dict[str, dict[str, Any]]:
    """samples.csv column -> its oracle's real_quantiles.json: {"checkpoint", "settings", "data", "quantiles"}."""
    return {column: load_reference(path, f"real_quantiles.{column}") for column, path in (files or {}).items()}


def applies(entry: dict[str, Any], node: dict[str, Any] | None) -> bool:
    """Whether the quantiles of `entry` belong to the oracle configured by reward node `node` (same checkpoint
    folder and settings); None (an oracle the domain itself runs) always matches."""
    if node is None:
        return True
    same_folder = Path(str(node.get("checkpoint", ""))).name == entry["checkpoint"]
    return same_folder and all(node.get(k) == v for k, v in entry.get("settings", {}).items())


def median(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [r[column] for r in rows if isinstance(r.get(column), (int, float))]
    return statistics.median(values) if values else None


def extrapolating(column: str, entry: dict[str, Any], m: float) -> str | None:
    p99 = entry["quantiles"]["p99"]
    if m <= p99:
        return None
    return (f"{column} ({entry['checkpoint']}) is extrapolating: the designs' median {m:.3g} is beyond the "
            f"99th percentile of {entry['data']} ({p99:.3g})")


def outside(naturalness: dict[str, Any]) -> list[str]:
    """'name value (real >= lo)' (or <= hi, or lo..hi) for every naturalness figure past a bound of its real range
    (a None bound is not checked)."""
    out = []
    for name, (lo, hi) in naturalness.get("real_range", {}).items():
        value = naturalness.get(name)
        if value is None or (lo is None or value >= lo) and (hi is None or value <= hi):
            continue
        bound = f">= {lo:.3g}" if hi is None else f"<= {hi:.3g}" if lo is None else f"{lo:.3g}..{hi:.3g}"
        out.append(f"{name} {value:.3g} (real {bound})")
    return out


def warnings(rows: list[dict[str, Any]], oracles: dict[str, dict[str, Any]], naturalness: dict[str, Any],
             reward_median: float | None, reference_median: float | None) -> list[str]:
    """The extrapolation lines, and one line when the reward rose over the pre-trained model's (or over the
    guidance oracle's real median without a reference) while an evaluation or a naturalness figure left the
    real range."""
    lines, left = [], outside(naturalness)
    for column, entry in oracles.items():
        m = median(rows, column)
        if m is None:
            continue
        line = extrapolating(column, entry, m)
        lines += [line] if line else []
        q = entry["quantiles"]
        if column != "reward" and not q["p1"] <= m <= q["p99"]:
            left.append(f"{column} median {m:.3g} (real p1..p99 {q['p1']:.3g}..{q['p99']:.3g})")
    baseline = reference_median
    if baseline is None and "reward" in oracles:
        baseline = oracles["reward"]["quantiles"]["p50"]
    if left and reward_median is not None and baseline is not None and reward_median > baseline:
        lines.append(f"reward rose (median {reward_median:.3g} vs {baseline:.3g} "
                     f"{'pre-trained' if reference_median is not None else 'real'}) while leaving the real data's "
                     f"range: {', '.join(left)}")
    return lines
