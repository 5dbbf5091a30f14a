"""What steer() writes: a run folder (outputs.RunFolder: durable batches, resume) with the domain's files, the
summary and the plots; a temporary folder when the caller asked for none."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svdd_cli.core import Counters, Domain
from svdd_cli.fronts import Objectives, front_summary, with_ranks
from svdd_cli.oracle_calls import OracleLedger
from svdd_cli.outputs import RunFolder, write_csv
from svdd_cli.result import Result
from svdd_cli.summary import make_plots, summarise

if TYPE_CHECKING:
    from torch import Tensor

    from svdd_cli.settings import Settings


class AnyDomain:
    """The domain of samples steer() is given no domain for: one `sample` column, no native file."""

    name = "any"

    def check_model(self, model: Any) -> None:
        pass

    def columns(self, ids: list[str], samples: list[Any], folder: Path) -> dict[str, list[Any]]:
        return {"sample": [s if isinstance(s, (str, int, float)) else type(s).__name__ for s in samples]}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        pass

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        return {}


class RunWriter:
    """One steer() call's outputs: batches made durable as they finish, then the summary and plots."""

    def __init__(self, folder: Path | None, config: Settings, domain: Domain | None, labels: dict[str, str],
                 resume: bool, record: dict[str, Any] | None, device: str,
                 objectives: Objectives | None = None) -> None:
        """objectives: a MultiObjective reward's (reward=pareto): objective columns, pareto_rank, the `pareto`
        block and pareto.png."""
        self._tmp = tempfile.TemporaryDirectory(prefix="svdd-") if folder is None else None
        self.folder = Path(self._tmp.name) if self._tmp else folder
        self.kept_folder = folder
        self.config, self.domain, self.labels, self.device = config, domain or AnyDomain(), labels, device
        self.objectives = objectives
        self.resume = resume
        self.record = record if record is not None else asdict(config)  # what a resume must match
        self.run = RunFolder(self.folder, self.record, resume)
        self.samples: list[Any] = []
        self.ledger: OracleLedger | None = None
        self.started = time.perf_counter()  # this sitting's start: the oracle's share of its wall time
        summary = self.folder / "summary.json"
        self.summary: dict[str, Any] = json.loads(summary.read_text()) if self.finished and summary.exists() else {}

    @property
    def finished(self) -> bool:
        return self.run.finished

    @property
    def done(self) -> list[int]:
        return self.run.done

    @property
    def counters(self) -> Counters:
        return self.run.counters

    def trace(self, record: dict[str, Any]) -> None:
        self.run.trace(record)

    def columns(self, ids: list[str], samples: list[Any]) -> dict[str, list[Any]]:
        self.samples += samples
        return self.domain.columns(ids, samples, self.folder)

    def oracle_ledger(self, budget: int | None, unscored: float) -> OracleLedger:
        """The run's ledger of distinct oracle calls, appending to oracle_calls.csv; a resumed run keeps the calls
        it already paid for, a new one starts the file afresh."""
        path = self.folder / "oracle_calls.csv"
        if not self.resume:
            path.unlink(missing_ok=True)
        self.ledger = OracleLedger(budget, unscored, path, objectives=self.objectives and self.objectives.labels)
        return self.ledger

    def add_batch(self, batch: int, rows: list[dict[str, Any]]) -> None:
        self.run.add_batch(batch, rows)
        self.domain.write_native(self.folder, self.run.rows)

    def finish(self, status: str, reference: list[float], oracle: dict[str, float],
               reference_values: Tensor | None = None, real_values: Tensor | None = None) -> None:
        """state.json (a finished run is not redone), summary.json and the plots; with objectives, samples.csv
        gains pareto_rank and summary.json its `pareto` block (reference_values, real_values: the oriented
        objective values (n, K) of the reference samples and of real held-out samples)."""
        if status == "finished":
            self.run.save_state(reference)
        self.summary = summarise({**self.record, "seed": self.config.seed, "precision": self.config.precision},
                                 self.labels, self.domain, self.run.rows, reference, self.counters, self.device,
                                 status, oracle)
        if self.config.nfe_per_sample is not None:
            self.summary["nfe_budget"] = self.config.nfe_per_sample
        if self.ledger is not None:  # with the share of this sitting's wall time spent inside the oracle
            calls = self.ledger.summary()
            sitting = max(time.perf_counter() - self.started, 1e-9)
            self.summary["oracle_calls"] = {**calls, "oracle_share": round(calls["oracle_s"] / sitting, 4)}
        if self.objectives is not None:
            self.summary["pareto"], ranks = front_summary(self.objectives, self.run.rows, reference_values,
                                                          real_values)
            self.run.rows = with_ranks(self.run.rows, ranks, self.objectives)
            write_csv(self.folder / "samples.csv", self.run.rows)
        self.run.write_summary(self.summary)
        make_plots(self.folder, self.run.rows, reference, self.summary, reference_values, real_values)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.run.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def result(self) -> Result:
        import torch

        rewards = torch.tensor([r["reward"] for r in self.run.rows], dtype=torch.float32)
        return Result(self.samples, rewards, self.run.rows, self.counters, self.summary, self.kept_folder)
