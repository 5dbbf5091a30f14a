"""The shared process pool + cache for CPU-bound oracles."""

from __future__ import annotations

import math

import torch

from svdd_cli.rewards.pool import ScorePool


def length_or_fail(s: str) -> float:
    if s == "boom":
        raise RuntimeError("oracle failed")
    if s == "nan":
        return math.nan
    return float(len(s))


def test_pool_scores_caches_and_penalises_failures():
    pool = ScorePool(length_or_fail, penalty=-5.0, workers=2)
    try:
        out = pool(["ab", "abc", "boom", "nan", "ab"])
        assert torch.equal(out, torch.tensor([2.0, 3.0, -5.0, -5.0, 2.0]))
        pool(["abc", "abcd"])
        assert pool.stats() == {"cache_hit_rate": 2 / 7, "scored": 5, "failures": 2}
    finally:
        pool.close()


def test_single_worker_matches_the_pool():
    samples = [f"{'x' * i}" for i in range(1, 30)]
    pooled, local = ScorePool(length_or_fail, -1.0, workers=2), ScorePool(length_or_fail, -1.0, workers=1)
    try:
        assert torch.equal(pooled(samples), local(samples))
    finally:
        pooled.close()
