"""`svdd` end to end on the shipped DNA checkpoint, shrunk to a few steps and samples."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from Bio import SeqIO

TINY = ["model.num_steps=4", "num_samples=5", "batch_size=3", "sampler.num_candidates=2", "reference_samples=4",
        "likelihood_draws=1", "device=cpu"]


def svdd(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "svdd_cli.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_help_is_discoverable():
    top = svdd("--help")
    assert top.returncode == 0 and "run" in top.stdout
    run_help = svdd("run", "--help")
    assert run_help.returncode == 0
    for group in ("domain", "model", "reward", "sampler"):
        assert f"{group}:" in run_help.stdout
    cfg = svdd("run", "--cfg", "job")
    assert cfg.returncode == 0 and "num_candidates" in cfg.stdout


def test_run_writes_every_output(tmp_path):
    result = svdd("run", *TINY, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert len(rows) == 5
    assert set(rows[0]) >= {"id", "sequence", "reward", "evaluation_reward", "log_likelihood", "gc"}
    assert all(len(r["sequence"]) == 200 and set(r["sequence"]) <= set("ACGT") for r in rows)
    records = list(SeqIO.parse(tmp_path / "samples.fasta", "fasta"))
    assert [str(r.seq) for r in records] == [r["sequence"] for r in rows]
    trace = [json.loads(line) for line in open(tmp_path / "trace.jsonl")]
    assert len(trace) == 2 * 4 and {"batch", "step", "value_mean", "value_max"} <= set(trace[-1])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["num_samples"] == 5
    assert summary["nfe"] == 5 * (1 + 2 * 1 + 2)  # guide_from=0.5: steps 0-1 plain, step 2 M=2, last step free
    assert summary["reward"]["median"] is not None and summary["evaluation_reward"]["median"] is not None
    assert summary["naturalness"]["log_likelihood"]["median"] < 0
    for plot in ("reward_hist.png", "reward_steps.png"):
        assert (tmp_path / plot).stat().st_size > 1000


def test_multirun_with_two_jobs(tmp_path):
    tiny = [o for o in TINY if not o.startswith("sampler.")]  # ancestral has no num_candidates
    result = svdd("run", "-m", "sampler=ancestral,svdd", *tiny, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summaries = sorted(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 2
    assert {json.loads(p.read_text())["choices"]["sampler"] for p in summaries} == {"ancestral", "svdd"}


@pytest.mark.parametrize(("override", "message"), [
    ("sampler=nope", "available sampler options: ancestral, beam, best_of_n,"),
    ("model.path=/no/such/model", "/no/such/model"),
    ("num_samples=0", "num_samples=0 must be an integer >= 1"),
    ("sampler.num_candidates=0", "num_candidates=0"),
    ("sampler.alpha=-1", "alpha=-1"),
    ("domain.name=rna", "not domain=rna"),
    ("sampler.no_such_key=1", "no_such_key"),
    ("num_samples=abc", "num_samples"),
    ("+reward.natural.kmer_set=5", "Set it without the +, or with ++"),  # svdd on DNA has the key already
])
def test_user_mistakes_are_one_line_errors(tmp_path, override, message):
    result = svdd("run", *TINY, override, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
