"""A run folder: samples.csv + the domain's native file rewritten atomically after every batch,
trace.jsonl appended per step, summary.json at the end (also after an interruption)."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Any

from svdd_cli.errors import UserError


class RunFolder:
    """Writes one run's outputs; every finished batch is on disk before the next one starts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.trace_file = open(folder / "trace.jsonl", "a")
        except OSError as err:
            raise UserError(f"cannot write the run folder {folder}: {err.strerror} "
                            "(choose another with hydra.run.dir=PATH)") from None
        self.rows: list[dict[str, Any]] = []

    def trace(self, record: dict[str, Any]) -> None:
        self.trace_file.write(json.dumps(record) + "\n")
        self.trace_file.flush()

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Append samples and rewrite samples.csv (write to a temp file, then rename)."""
        self.rows.extend(rows)
        tmp = self.folder / "samples.csv.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.folder / "samples.csv")

    def write_summary(self, summary: dict[str, Any]) -> None:
        tmp = self.folder / "summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        tmp.replace(self.folder / "summary.json")

    def close(self) -> None:
        self.trace_file.close()


def describe(values: list[float]) -> dict[str, float | None]:
    """median / mean / top-10% (mean of the best tenth) / max of a list of rewards."""
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return {"median": None, "mean": None, "top10": None, "max": None}
    top = finite[-max(1, len(finite) // 10):]
    return {"median": statistics.median(finite), "mean": statistics.fmean(finite),
            "top10": statistics.fmean(top), "max": finite[-1]}
