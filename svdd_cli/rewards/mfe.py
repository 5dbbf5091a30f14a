"""Minimum free energy of the ViennaRNA fold (kcal/mol, default Turner 2004 parameters, 37 C).

direction=stable rewards -MFE (more structured), direction=open rewards +MFE (less structured).
Folding is CPU-bound: it runs through the shared process pool + cache (rewards/pool.py).
"""

from __future__ import annotations

from functools import partial

from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.rna import fold, is_rna

SIGNS = {"stable": -1.0, "open": 1.0}


def signed_mfe(seq: str, sign: float) -> float:
    """sign * MFE of an ACGU sequence; anything else raises (the pool turns it into the penalty)."""
    if not is_rna(seq):
        raise ValueError(f"not an ACGU sequence: {seq!r}")
    return sign * fold(seq)[1]


class Mfe(PooledReward):
    """ViennaRNA MFE as a reward, signed by `direction` (stable | open)."""

    domains = ("rna",)

    def __init__(self, direction: str = "stable", penalty: float = -100.0, workers: int = 0) -> None:
        if direction not in SIGNS:
            raise ValueError(f"reward.direction={direction!r} must be one of {', '.join(SIGNS)}")
        super().__init__(partial(signed_mfe, sign=SIGNS[direction]), penalty, workers)  # a non-ACGU sample: penalty
