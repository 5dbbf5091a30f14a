"""The naturalness figures a domain's tables and plots lead with. Each domain declares its own (a tuple of Figure)
and puts them into its summary.json naturalness block as "headline"; `svdd report`, scripts/frontier.py,
scripts/compare_samplers.py and scripts/tradeoff.py read them from there and name no domain's figures."""

from __future__ import annotations

from typing import Any, NamedTuple


class Figure(NamedTuple):
    """A figure a domain leads with: its key in summary.json's naturalness block, a column title, an axis title, and
    the entry of that block whose value for the key a table shows beside it ("real": real subsets' median at the
    run's size, "real_range": the real data's [p5, p95], None: nothing). The first two are the axes of the
    domain's trade-off plot."""

    key: str
    column: str
    axis: str
    real: str | None = "real"


def headline(naturalness: dict[str, Any]) -> list[Figure]:
    """The figures a summary's naturalness block leads with; none where its domain declares none."""
    return [Figure(*figure) for figure in naturalness.get("headline", [])]
