"""A run folder that survives interruption (Ctrl-C, kill -9, pre-emption) without losing finished work.

After every batch: its rows are appended to samples.jsonl (fsync), samples.csv is rewritten atomically (temp
file + rename), the domain's native file gets the batch appended (GrowingFile) or, for an image grid, is rewritten
atomically, and state.json records the finished batches,
the compute counters and the settings. `resume=true` continues from there; a finished run is not redone.
trace.jsonl gets one line per sampling step as it runs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svdd_cli.core import Counters
from svdd_cli.errors import UserError


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """rows -> CSV, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


class GrowingFile:
    """A domain's native text file (FASTA, SDF) that grows by batches: when the rows it holds are the first of
    `rows` (a run adds its batches in id order), the text of the new rows is appended in one write; otherwise (this
    process has not written it yet: a resumed run, whose file may end in a batch cut short by kill -9; merged
    shards; any other rows) it is rewritten atomically. Either way it ends as render(all rows, []) would write it."""

    def __init__(self, name: str, render: Callable[[list[dict[str, Any]], list[dict[str, Any]]], str]) -> None:
        """render(new rows, the rows before them in the file) -> the text of the new rows."""
        self.name, self.render = name, render
        self.held: dict[Path, tuple[int, str, int]] = {}  # folder -> (rows in its file, the last one's id, bytes)

    def write(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        path = folder / self.name
        count, last, size = self.held.get(folder, (-1, "", -1))
        ours = path.exists() and path.stat().st_size == size  # as this object left it
        if ours and 0 <= count <= len(rows) and (count == 0 or rows[count - 1]["id"] == last):
            with open(path, "a") as f:
                f.write(self.render(rows[count:], rows[:count]))
        else:
            write_atomic(path, self.render(rows, []))
        self.held[folder] = (len(rows), rows[-1]["id"] if rows else "", path.stat().st_size)


RUNNING = ".svdd_running"  # in a run folder while a process writes it: "<host> <pid>"


def claim(folder: Path) -> Path:
    """Mark `folder` as written by this process; UserError when a live svdd process of this host holds it (two
    runs started in the same second share Hydra's folder). A mark left by a killed run, or by another host (whose
    processes cannot be checked from here), is taken over."""
    mark = folder / RUNNING
    for _ in range(2):
        try:
            fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                host, _, pid = mark.read_text().partition(" ")
            except FileNotFoundError:  # released meanwhile
                continue
            if not host or (host == socket.gethostname() and pid.isdigit() and alive(int(pid))):
                raise UserError(f"{folder} is being written by another svdd run (pid {pid or '?'}); choose "
                                "another folder with hydra.run.dir=PATH") from None
            mark.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}")
        return mark
    raise UserError(f"{folder} is being claimed by another svdd run; choose another folder with hydra.run.dir=PATH")


def alive(pid: int) -> bool:
    """Whether process `pid` of this host exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        pass
    return True


class RunFolder:
    """One run's outputs and its resumable state; the folder is claimed (RUNNING) until close()."""

    def __init__(self, folder: Path, settings: dict[str, Any], resume: bool) -> None:
        self.folder, self.settings = folder, settings
        self.rows: list[dict[str, Any]] = []
        self.done: list[int] = []
        self.counters = Counters()
        self.reference: list[float] | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".write_test").touch()
            (folder / ".write_test").unlink()
        except OSError as err:
            raise UserError(f"cannot write the run folder {folder}: {err.strerror} "
                            "(choose another with hydra.run.dir=PATH)") from None
        self.mark = claim(folder)
        try:
            state_path = folder / "state.json"
            if state_path.exists():
                if not resume:
                    raise UserError(f"{folder} already holds a run; add resume=true to continue it, "
                                    "or choose another folder with hydra.run.dir=PATH")
                self._load(json.loads(state_path.read_text()))
            self.trace_file = open(folder / "trace.jsonl", "a")  # noqa: SIM115 - appended during the whole run
        except BaseException:
            self.mark.unlink(missing_ok=True)
            raise

    def _load(self, state: dict[str, Any]) -> None:
        changed = sorted(k for k in set(state["settings"]) | set(self.settings)
                         if state["settings"].get(k) != self.settings.get(k))
        if changed:
            raise UserError(f"cannot resume {self.folder}: settings differ from the interrupted run in "
                            f"{', '.join(changed)} (rerun with the same settings)")
        self.done = state["done"]
        self.counters = Counters(**state["counters"])
        self.reference = state.get("reference")
        rows = {}
        with open(self.folder / "samples.jsonl") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by kill -9
                    continue
                if row.pop("_batch") in self.done:
                    rows[row["id"]] = row
        self.rows = sorted(rows.values(), key=lambda r: r["id"])
        trace = self.folder / "trace.jsonl"
        kept = [line for line in trace.read_text().splitlines() if _finished(line, self.done)]
        write_atomic(trace, "".join(line + "\n" for line in kept))

    @property
    def finished(self) -> bool:
        return self.reference is not None

    def trace(self, record: dict[str, Any]) -> None:
        self.trace_file.write(json.dumps(record) + "\n")
        self.trace_file.flush()

    def add_batch(self, batch: int, rows: list[dict[str, Any]]) -> None:
        """Make a finished batch durable: samples.jsonl, samples.csv, state.json."""
        with open(self.folder / "samples.jsonl", "a") as f:
            f.writelines(json.dumps({"_batch": batch, **r}) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
        self.rows = sorted(self.rows + rows, key=lambda r: r["id"])
        self.done.append(batch)
        write_csv(self.folder / "samples.csv", self.rows)
        self.save_state()

    def save_state(self, reference: list[float] | None = None) -> None:
        """state.json; `reference` (the pre-trained rewards) is set once the run has finished."""
        self.reference = reference if reference is not None else self.reference
        c = self.counters
        state = {"settings": self.settings, "done": self.done, "reference": self.reference,
                 "counters": {"nfe": c.nfe, "reward_calls": c.reward_calls, "wall_s": c.wall_s,
                              "invalid_rewards": c.invalid_rewards}}
        write_atomic(self.folder / "state.json", json.dumps(state) + "\n")

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.folder / "summary.json", json.dumps(summary, indent=2) + "\n")

    def close(self) -> None:
        self.trace_file.close()
        self.mark.unlink(missing_ok=True)


def _finished(line: str, done: list[int]) -> bool:
    try:
        return json.loads(line).get("batch") in done
    except json.JSONDecodeError:
        return False


def describe(values: list[float]) -> dict[str, float | None]:
    """median / mean / top-10% (mean of the best tenth) / max of a list of rewards."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return {"median": None, "mean": None, "top10": None, "max": None}
    top = finite[-max(1, len(finite) // 10):]
    return {"median": statistics.median(finite), "mean": statistics.fmean(finite),
            "top10": statistics.fmean(top), "max": finite[-1]}
