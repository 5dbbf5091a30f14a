"""Reference statistics of real held-out data (written by scripts/reference_stats.py beside a checkpoint)
and the comparison of a run's figures with them.

A figure of a set (3-mer correlation, median GC, diversity, ...) depends on the set's size, so the file holds,
for subset sizes n = 8 .. 512, the 5th / 50th / 95th percentile of the figure over random subsets of the real
data; a run of n samples is compared with real subsets of its own size (log-linear in n between the sizes).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from svdd_cli.errors import UserError

SIZES = (8, 16, 32, 64, 128, 256, 512)
FRECHET_SIZES = (256, 512, 1024, 2048, 4096)  # a Frechet distance needs >= 256 samples


def load_reference(path: str | Path, where: str, writer: str = "scripts/reference_stats.py") -> dict[str, Any]:
    """The JSON reference file; a missing or unreadable one is a one-line UserError naming `where` and the
    script that writes the file."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{where}: cannot read reference statistics {path}: {err} "
                        f"(write them with {writer}, or set it to null)") from None


def subset_table(figures: list[dict[str, float]], sizes: list[int]) -> dict[str, Any]:
    """{"n": sizes, "figures": {name: {"p5": [...], "p50": [...], "p95": [...]}}} from figures[size][draw]."""
    names = list(figures[0][0])
    table = {name: {p: [] for p in ("p5", "p50", "p95")} for name in names}
    for draws in figures:
        for name in names:
            values = np.array([d[name] for d in draws], float)
            values = values[np.isfinite(values)]
            for p, q in (("p5", 5), ("p50", 50), ("p95", 95)):
                table[name][p].append(round(float(np.percentile(values, q)), 6) if values.size else None)
    return {"n": list(sizes), "figures": table}


def at_size(table: dict[str, Any], name: str, n: int) -> tuple[float, float, float] | None:
    """(p5, p50, p95) of figure `name` over real subsets of n (interpolated in log n, clamped to the sizes)."""
    entry = table["figures"].get(name)
    if entry is None or None in entry["p50"]:
        return None
    x = np.log(np.asarray(table["n"], float))
    at = math.log(min(max(n, table["n"][0]), table["n"][-1]))
    return tuple(float(np.interp(at, x, entry[p])) for p in ("p5", "p50", "p95"))


def compare(figures: dict[str, float], table: dict[str, Any], n: int, ranged: dict[str, str]) -> dict[str, Any]:
    """The run's figures, "real": real subsets' median at the same n, "real_range": [p5, p95] of real subsets
    for the `ranged` figures (name -> the side a natural design must not cross: "low", "high" or "both"; the
    other bound is None), rounded for the summary. Below the smallest tabulated size "real" stays empty."""
    real, ranges = {}, {}
    for name in figures if n >= table["n"][0] else ():
        stats = at_size(table, name, n)
        if stats is None:
            continue
        real[name] = round(stats[1], 4)
        if name in ranged:
            lo, hi = round(stats[0], 4), round(stats[2], 4)
            ranges[name] = [None if ranged[name] == "high" else lo, None if ranged[name] == "low" else hi]
    rounded = {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else None) for k, v in figures.items()}
    return {**rounded, "real": real, "real_range": ranges, "real_n": min(n, table["n"][-1]) if real else None}


def real_fields(figures: dict[str, float], table: dict[str, Any], n: int, ranged: dict[str, str]) -> dict[str, Any]:
    """Only what compare() adds beside the figures ("real", "real_range", "real_n"), for a domain whose figures
    are already in its summary."""
    compared = compare(figures, table, n, ranged)
    return {k: compared[k] for k in ("real", "real_range", "real_n")}
