"""Oracle calls as a compute axis: the ledger of distinct samples an oracle scored, in call order.

A scientist with an expensive oracle (docking, folding, an assay behind reward=command) pays per *distinct*
sample: a repeat is served from the ledger's cache for free. Every run keeps one ledger of its guiding reward;
it appends each distinct call to `oracle_calls.csv` (order, sample, score) as it is made, and the summary reports
the distinct-call count, the best-so-far curve and PMO's AUC of the top-10 mean against calls (Gao et al. 2022,
"Sample efficiency matters", docs/algorithms.md). `oracle_budget=N` caps the distinct calls of a run.
"""

from __future__ import annotations

import csv
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

FIELDS = ["order", "sample", "score"]
PMO_TOP_N = 10  # PMO's score: AUC of the mean of the best 10 ...
PMO_LOG_EVERY = 100  # ... evaluated every 100 calls, trapezoids in between
Score = float | tuple[float, ...]  # a sample's score: a number, or one per objective (reward=pareto)


def sample_key(sample: Any) -> str:
    """What makes two samples the same call: a string itself (sequences; canonical SMILES, as the molecule
    domain decodes them), an image or array by its bytes (sha1), anything else by its repr."""
    if isinstance(sample, str):
        return sample
    if isinstance(sample, Tensor):
        data = sample.detach().cpu().contiguous()
        return "sha1:" + hashlib.sha1(data.numpy().tobytes() + str(tuple(data.shape)).encode()).hexdigest()
    return repr(sample)


class OracleLedger:
    """Each distinct sample scored once, in call order; repeats are free. budget: distinct calls allowed (None:
    no limit). Once it is spent, an unseen sample is not scored: it gets `unscored` (below every real score, so
    selection keeps what the oracle has seen) and `refused_sample()` says so. A call that raises records nothing:
    the caller scores those samples one by one (core.CountedReward). `objectives`: the oracle returns one oriented
    value per objective and sample (B, K) (reward=pareto): each sample's vector is kept, in one column per
    objective of oracle_calls.csv, `unscored` in each of them when the budget refused it."""

    def __init__(self, budget: int | None = None, unscored: float = -1000.0, path: Path | None = None,
                 key: Callable[[Any], str] = sample_key, objectives: Sequence[str] | None = None) -> None:
        self.budget, self.unscored, self.path, self.key = budget, unscored, path, key
        self.objectives = tuple(objectives) if objectives else None  # a vector per sample (core.MultiObjective)
        self.fields = [*FIELDS[:2], *(self.objectives or FIELDS[2:])]
        self.scores: dict[str, Score] = {}  # key -> score, in call order (dicts keep insertion order)
        self.repeats = 0  # calls answered from the cache
        self.seconds = 0.0  # spent inside the oracle by this sitting
        self.unpaid: set[str] = set()  # keys of unseen samples not scored because the budget was spent
        if path is not None and path.exists():  # a resumed run: its calls stay paid for
            with open(path, newline="") as f:
                self.scores = {row["sample"]: self._value([float(row[c]) for c in self.fields[2:]])
                               for row in csv.DictReader(f)}

    def _value(self, values: list[float]) -> Score:
        """A sample's score as kept: a number, or a tuple of one number per objective."""
        return tuple(values) if self.objectives else values[0]

    @property
    def refused(self) -> int:
        """Distinct samples the spent budget kept from the oracle."""
        return len(self.unpaid)

    @property
    def calls(self) -> int:
        """Distinct oracle calls made so far."""
        return len(self.scores)

    @property
    def spent(self) -> bool:
        return self.budget is not None and self.calls >= self.budget

    def calls_left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.calls)

    def refused_sample(self, sample: Any) -> bool:
        """The budget was spent before the oracle saw this sample (its score is `unscored`, not the oracle's)."""
        return self.key(sample) in self.unpaid and self.key(sample) not in self.scores

    def score(self, oracle: Callable[[list[Any]], Any], samples: list[Any]) -> Tensor:
        """(B,) scores of `samples` ((B, K) with objectives): cached ones from the ledger, unseen ones from
        oracle(unseen) while the budget lasts (in order; the rest get `unscored`). Raw values are kept, NaN
        included: the caller handles them."""
        keys = [self.key(s) for s in samples]
        todo: dict[str, Any] = {}
        for k, s in zip(keys, samples):
            if k not in self.scores and k not in todo:
                todo[k] = s
        self.repeats += len(keys) - len(todo)
        room = len(todo) if self.budget is None else max(0, min(len(todo), self.budget - self.calls))
        unseen = list(todo)
        asked = unseen[:room]
        self.unpaid.update(unseen[room:])
        if asked:
            started = time.perf_counter()
            try:
                values = torch.as_tensor(oracle([todo[k] for k in asked])).float().cpu()  # may raise: none recorded
            finally:
                self.seconds += time.perf_counter() - started
            if values.shape != (len(asked), *self.width):  # the caller's shape check names the reward: give it
                if values.ndim and len(values) == len(asked) == len(todo):  # one row per sample where they line up
                    return values[[asked.index(k) for k in keys]]
                return values
            self._record({k: self._value(v) if self.objectives else v for k, v in zip(asked, values.tolist())})
        refused = self._value([self.unscored] * len(self.fields[2:]))
        return torch.tensor([self.scores.get(k, refused) for k in keys], dtype=torch.float32)

    @property
    def width(self) -> tuple[int, ...]:
        """The shape of one sample's score: () a number, (K,) one per objective."""
        return (len(self.objectives),) if self.objectives else ()

    def _record(self, new: dict[str, float]) -> None:
        start = self.calls
        self.scores.update(new)
        if self.path is None:
            return
        fresh = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.writer(f)
            if fresh:
                writer.writerow(self.fields)
            writer.writerows([start + i, k, *(v if isinstance(v, tuple) else [v])]
                             for i, (k, v) in enumerate(new.items()))

    def summary(self) -> dict[str, Any]:
        """summary.json's `oracle_calls`: distinct calls, repeats, seconds inside the oracle (this sitting's), the
        best-so-far curve (top-1 and top-10 mean after every PMO_LOG_EVERY calls, and at the end) and PMO's AUC
        top-10 at max(budget, calls) calls; with objectives no single score ranks the calls: those four are None
        (summary.json's `pareto` block judges the samples)."""
        if self.objectives:
            return {"distinct": self.calls, "repeats": self.repeats, "refused": self.refused, "budget": self.budget,
                    "oracle_s": round(self.seconds, 3), "top1": None, "top10": None, "auc_top10": None, "curve": []}
        scores = [v for v in self.scores.values()]
        horizon = max(self.budget or 0, len(scores))
        return {"distinct": len(scores), "repeats": self.repeats, "refused": self.refused,
                "budget": self.budget, "oracle_s": round(self.seconds, 3), "top1": top_mean(scores, 1),
                "top10": top_mean(scores, PMO_TOP_N),
                "auc_top10": auc_top_n(scores, horizon) if scores else None,
                "curve": best_so_far(scores)}


def top_mean(scores: list[float], n: int) -> float | None:
    """Mean of the n best finite scores (fewer when fewer exist); None when there are none."""
    finite = sorted((s for s in scores if math.isfinite(s)), reverse=True)[:n]
    return sum(finite) / len(finite) if finite else None


def best_so_far(scores: list[float], every: int = PMO_LOG_EVERY) -> list[dict[str, float | None]]:
    """[{calls, top1, top10}] after every `every` calls and after the last."""
    points = [*range(every, len(scores), every), len(scores)] if scores else []
    return [{"calls": c, "top1": top_mean(scores[:c], 1), "top10": top_mean(scores[:c], PMO_TOP_N)}
            for c in points]


def auc_top_n(scores: list[float], max_calls: int, top_n: int = PMO_TOP_N, every: int = PMO_LOG_EVERY) -> float:
    """PMO's sample-efficiency score of scores in call order: the area under the top-n mean against calls,
    trapezoids between logs every `every` calls, the last value held out to max_calls, divided by max_calls
    (1.0 = the best possible score from the first call on). As PMO's reference code computes it (mol_opt,
    `top_auc(..., finish=True)`)."""
    total, previous, called = 0.0, 0.0, 0
    for calls in range(every, min(len(scores), max_calls), every):
        now = top_mean(scores[:calls], top_n) or 0.0
        total += every * (now + previous) / 2
        previous, called = now, calls
    now = top_mean(scores[:max_calls], top_n) or 0.0
    total += (min(len(scores), max_calls) - called) * (now + previous) / 2
    if len(scores) < max_calls:
        total += (max_calls - len(scores)) * now
    return total / max_calls
