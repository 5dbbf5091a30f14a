"""The PMO benchmark in one command, at 200 calls: pmo.md's row, and the AUC the summary reports is PMO's AUC of
oracle_calls.csv's rows re-scored by PyTDC outside svdd."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def pmo_top_auc(buffer: dict[str, tuple[float, int]], top_n: int, max_oracle_calls: int, freq_log: int = 100) -> float:
    """PMO's score as its reference code states it (mol_opt's top_auc with finish=True), on its buffer
    {smiles: (score, call order)}."""
    ordered = sorted(buffer.items(), key=lambda kv: kv[1][1])
    total, prev, called = 0.0, 0.0, 0
    for idx in range(freq_log, min(len(buffer), max_oracle_calls), freq_log):
        now = np.mean(sorted((v[0] for _, v in ordered[:idx]), reverse=True)[:top_n])
        total += freq_log * (now + prev) / 2
        prev, called = now, idx
    now = np.mean(sorted((v[0] for _, v in ordered), reverse=True)[:top_n])
    total += (len(buffer) - called) * (now + prev) / 2
    if len(buffer) < max_oracle_calls:
        total += (max_oracle_calls - len(buffer)) * now
    return total / max_oracle_calls


def test_one_task_at_200_calls_rescored_by_pytdc_gives_the_summary_s_auc(tmp_path):
    pytest.importorskip("tdc")
    out = tmp_path / "pmo"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_pmo.py"), "--tasks", "albuterol_similarity",
                           "--seeds", "0", "--budget", "200", "--out", str(out), "--", "num_samples=20",
                           "batch_size=20", "likelihood_draws=1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (out / "pmo.md").read_text()
    assert "| albuterol_similarity | " in table and "| **sum** |" in table and "0.882" in table  # REINVENT's
    run = out / "albuterol_similarity" / "seed0"
    summary = json.loads((run / "summary.json").read_text())
    with open(run / "oracle_calls.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert summary["oracle_calls"]["distinct"] == len(rows) == 200
    from svdd_cli.rewards.pmo import tdc_oracle  # PyTDC's Oracle(name=...) as it is, imported offline

    oracle = tdc_oracle("albuterol_similarity")
    rescored = [oracle(r["sample"]) for r in rows]
    assert np.allclose(rescored, [float(r["score"]) for r in rows], atol=1e-6)
    buffer = {r["sample"]: (s, int(r["order"])) for r, s in zip(rows, rescored)}
    assert len(buffer) == 200  # each distinct molecule once
    assert summary["oracle_calls"]["auc_top10"] == pytest.approx(pmo_top_auc(buffer, 10, 200), abs=1e-3)


def test_runs_go_two_at_a_time_into_the_record_and_are_not_drawn_again(tmp_path):
    pytest.importorskip("tdc")
    out, record = tmp_path / "pmo", tmp_path / "runs.csv"
    command = [sys.executable, str(ROOT / "scripts" / "bench_pmo.py"), "--tasks", "qed", "--seeds", "0,1", "--budget",
               "60", "--jobs", "2", "--record", str(record), "--out", str(out), "--", "num_samples=10",
               "batch_size=10", "likelihood_draws=1", "sampler.initial=2"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    with open(record, newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["seed"] for r in rows) == ["0", "1"] and {r["budget"] for r in rows} == {"60"}
    assert all(r["overrides"] == "num_samples=10 batch_size=10 likelihood_draws=1 sampler.initial=2" for r in rows)
    table = (out / "pmo.md").read_text()
    shutil.rmtree(out)
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not (out / "qed").exists() and (out / "pmo.md").read_text() == table  # from the record alone
