"""CPU-bound oracles in parallel: a process pool over cores plus a cache keyed by the sample.

Guidance scores the x0-hat of many candidates, and those repeat (most positions are already
fixed late in sampling), so a cache saves most calls of a slow oracle (docking, folding).
A sample the oracle cannot score (exception, NaN, inf) gets `penalty` and is counted.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from torch import Tensor


def _safe(score: Callable[[Any], float], sample: Any) -> float | None:
    """score(sample), or None when it raises or is not finite."""
    try:
        value = float(score(sample))
    except Exception:  # an oracle failure on one sample must not stop the run
        return None
    return value if math.isfinite(value) else None


class ScorePool:
    """Scores samples with a picklable per-sample function, cached, across `workers` processes.

    workers = 0 uses every core; 1 scores in this process (no pool)."""

    def __init__(self, score: Callable[[Any], float], penalty: float, workers: int = 0,
                 key: Callable[[Any], Any] = lambda s: s) -> None:
        self.score, self.penalty, self.key = score, penalty, key
        self.workers = workers or os.cpu_count() or 1
        self.cache: dict[Any, float | None] = {}
        self.hits = self.misses = self.failures = 0
        self._executor: ProcessPoolExecutor | None = None

    def __call__(self, samples: list[Any]) -> Tensor:
        """(B,) float32 scores; failures get the penalty."""
        keys = [self.key(s) for s in samples]
        todo = {k: s for k, s in zip(keys, samples) if k not in self.cache}
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        for k, value in zip(todo, self._map(list(todo.values()))):
            self.cache[k] = value
            self.failures += value is None
        return torch.tensor([self.penalty if self.cache[k] is None else self.cache[k] for k in keys],
                            dtype=torch.float32)

    def _map(self, samples: list[Any]) -> list[float | None]:
        if self.workers == 1 or len(samples) < 2:
            return [_safe(self.score, s) for s in samples]
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers)
        chunk = max(1, len(samples) // (4 * self.workers))
        return list(self._executor.map(_safe, [self.score] * len(samples), samples, chunksize=chunk))

    def stats(self) -> dict[str, float]:
        """Cache hit rate and failure count, for summary.json."""
        total = self.hits + self.misses
        return {"cache_hit_rate": self.hits / total if total else 0.0, "scored": self.misses,
                "failures": self.failures}

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


class PooledReward:
    """A per-sample score as a Reward (the oracle families mfe, structure, translation, qed, sa, logp, docking):
    scored through a ScorePool, with its cache and failure counts as stats() (core.OracleStats)."""

    def __init__(self, score: Callable[[Any], float], penalty: float, workers: int = 0,
                 key: Callable[[Any], Any] = lambda s: s) -> None:
        self.pool = ScorePool(score, penalty, workers, key)

    def __call__(self, samples: list[Any]) -> Tensor:
        """(B,) scores; a sample the oracle cannot score gets the penalty."""
        return self.pool(samples)

    def stats(self) -> dict[str, float]:
        return self.pool.stats()
