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


def shown(value: float, *bounds: float | None) -> list[str]:
    """`value` and `bounds` to 3 significant digits, or more where 3 would print the value equal to a bound it
    lies outside of (295.4 vs a bound of 295.1 reads "295.4 (real 295.1..)", not "295 (real 295..)")."""
    for digits in range(3, 10):
        text = [f"{value:.{digits}g}"] + [f"{b:.{digits}g}" if b is not None else "" for b in bounds]
        if text[0] not in text[1:]:
            break
    return text


def beyond_real(m: float, quantiles: dict[str, float]) -> bool:
    """Whether a median `m` of an oracle's scores is beyond its real 99th percentile: the oracle extrapolates."""
    return m > quantiles["p99"]


def extrapolating(column: str, entry: dict[str, Any], m: float) -> str | None:
    if not beyond_real(m, entry["quantiles"]):
        return None
    m_text, p99_text = shown(m, entry["quantiles"]["p99"])
    return (f"{column} ({entry['checkpoint']}) is extrapolating: the designs' median {m_text} is beyond the "
            f"99th percentile of {entry['data']} ({p99_text})")


def outside(naturalness: dict[str, Any]) -> list[str]:
    """'name value (real >= lo)' (or <= hi, or lo..hi) for every naturalness figure past a bound of its real range
    (a None bound is not checked)."""
    out = []
    for name, (lo, hi) in naturalness.get("real_range", {}).items():
        value = naturalness.get(name)
        if value is None or (lo is None or value >= lo) and (hi is None or value <= hi):
            continue
        value_text, lo_text, hi_text = shown(value, lo, hi)
        bound = f">= {lo_text}" if hi is None else f"<= {hi_text}" if lo is None else f"{lo_text}..{hi_text}"
        out.append(f"{name} {value_text} (real {bound})")
    return out


def warnings(rows: list[dict[str, Any]], oracles: dict[str, dict[str, Any]], naturalness: dict[str, Any],
             reward_median: float | None, reference_median: float | None, steered: bool = True) -> list[str]:
    """The extrapolation lines, and one line when the reward rose over the pre-trained model's (or over the
    guidance oracle's real median without a reference) while an evaluation or a naturalness figure left the
    real range. Unsteered (ancestral) samples rise only by chance: for them the line says that the pre-trained
    model itself leaves the real range; without any baseline (no reference draw, no oracle quantiles) it says
    only that the designs leave it."""
    lines, left = [], outside(naturalness)
    for column, entry in oracles.items():
        m = median(rows, column)
        if m is None:
            continue
        line = extrapolating(column, entry, m)
        lines += [line] if line else []
        q = entry["quantiles"]
        if column != "reward" and not q["p1"] <= m <= q["p99"]:
            m_text, p1_text, p99_text = shown(m, q["p1"], q["p99"])
            left.append(f"{column} median {m_text} (real p1..p99 {p1_text}..{p99_text})")
    baseline = reference_median
    if baseline is None and "reward" in oracles:
        baseline = oracles["reward"]["quantiles"]["p50"]
    if left and not steered:
        lines.append(f"the pre-trained model's own samples leave the real data's range: {', '.join(left)}")
    elif left and reward_median is not None and baseline is not None and reward_median > baseline:
        lines.append(f"reward rose (median {reward_median:.3g} vs {baseline:.3g} "
                     f"{'pre-trained' if reference_median is not None else 'real'}) while leaving the real data's "
                     f"range: {', '.join(left)}")
    elif left and baseline is None:
        lines.append(f"the designs leave the real data's range (no pre-trained reference to compare the reward "
                     f"with: reference_samples=0): {', '.join(left)}")
    return lines
