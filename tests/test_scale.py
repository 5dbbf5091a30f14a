"""Scale-out and fault tolerance: resume after kill -9, shards that merge exactly, report, launchers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_cli import svdd


def settings(checkpoint: str, *extra: str) -> list[str]:
    return [f"model.path={checkpoint}", "model.num_steps=6", "sampler.num_candidates=2", "num_samples=12",
            "batch_size=2", "reference_samples=2", "likelihood_draws=1", "device=cpu", *extra]


def test_kill_9_then_resume_gives_the_uninterrupted_samples(tiny_checkpoint, tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={whole}").returncode == 0
    cmd = [sys.executable, "-m", "svdd_cli.cli", "run", *settings(tiny_checkpoint), f"hydra.run.dir={broken}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    state = broken / "state.json"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = len(json.loads(state.read_text())["done"])
    assert 1 <= done_at_kill < 6, "the run must be killed mid-way"
    assert not (broken / "summary.json").exists()
    resumed = svdd("run", *settings(tiny_checkpoint, "resume=true"), f"hydra.run.dir={broken}")
    assert resumed.returncode == 0, resumed.stderr
    assert (broken / "samples.csv").read_text() == (whole / "samples.csv").read_text()
    assert (broken / "samples.fasta").read_text() == (whole / "samples.fasta").read_text()  # grown by batches
    summary = json.loads((broken / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["nfe"] == json.loads((whole / "summary.json").read_text())["nfe"]
    again = svdd("run", *settings(tiny_checkpoint, "resume=true"), f"hydra.run.dir={broken}")
    assert again.returncode == 0 and "already finished" in again.stdout


def test_fasta_grows_by_batch_and_a_resumed_run_rewrites_a_tail_cut_by_kill(tmp_path):
    from svdd_cli.domains.sequence import SequenceDomain, fasta_text

    rows = [{"id": f"s{i:06d}", "sequence": "ACGT" * (i + 20), "reward": float(i)} for i in range(6)]
    domain, fasta = SequenceDomain("dna", "ACGT"), tmp_path / "samples.fasta"
    for end in (2, 4):
        domain.write_native(tmp_path, rows[:end])
    assert fasta.read_text() == fasta_text(rows[:4])
    with open(fasta, "a") as f:
        f.write(">s000004 reward=4.0000\nACGTAC")  # kill -9 in the middle of the next append
    SequenceDomain("dna", "ACGT").write_native(tmp_path, rows)  # the resumed process's first write
    assert fasta.read_text() == fasta_text(rows)
    domain.write_native(tmp_path, rows[:1] + rows[3:])  # not the rows it holds plus new ones: rewritten
    assert fasta.read_text() == fasta_text(rows[:1] + rows[3:])


def test_rerun_into_a_used_folder_needs_resume_and_same_settings(tiny_checkpoint, tmp_path):
    assert svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={tmp_path}").returncode == 0
    again = svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={tmp_path}")
    assert again.returncode == 2 and "resume=true" in again.stderr
    changed = svdd("run", *settings(tiny_checkpoint, "seed=5", "resume=true"), f"hydra.run.dir={tmp_path}")
    assert changed.returncode == 2 and "seed" in changed.stderr


def test_a_folder_another_live_run_writes_is_refused_and_left_alone(tiny_checkpoint, tmp_path):
    import socket

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / ".svdd_running").write_text(f"{socket.gethostname()} {os.getpid()}")  # this test: a live process
    (busy / "trace.jsonl").write_text("{}\n")  # the other run's first output
    refused = svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={busy}")
    assert refused.returncode == 2 and f"is being written by another svdd run (pid {os.getpid()})" in refused.stderr
    assert (busy / "trace.jsonl").read_text() == "{}\n" and (busy / ".svdd_running").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for owner in (f"{socket.gethostname()} {dead.pid}", f"another-host {os.getpid()}"):  # a killed run's mark
        (busy / ".svdd_running").write_text(owner)
        (busy / "state.json").unlink(missing_ok=True)
        taken = svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={busy}")
        assert taken.returncode == 0, taken.stderr
        assert not (busy / ".svdd_running").exists()  # released when the run ends


def test_shards_merge_into_the_single_run_and_report(tiny_checkpoint, tmp_path):
    single = tmp_path / "single"
    assert svdd("run", *settings(tiny_checkpoint), f"hydra.run.dir={single}").returncode == 0
    sweep = svdd("run", "-m", *settings(tiny_checkpoint, "num_shards=3", "shard=0,1,2"),
                 f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert sweep.returncode == 0, sweep.stderr
    assert svdd("merge", str(tmp_path / "sweep")).returncode == 0
    merged = tmp_path / "sweep" / "merged-0"
    assert (merged / "samples.csv").read_text() == (single / "samples.csv").read_text()
    a, b = (json.loads((d / "summary.json").read_text()) for d in (merged, single))
    for key in ("reward", "evaluation_reward", "reference_reward", "naturalness", "nfe", "reward_calls"):
        assert a[key] == b[key], key
    report = svdd("report", str(tmp_path), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "report.md").read_text()
    assert table.startswith("2 runs of domain=dna reward=enhancer sampler=svdd\n")  # shards count once
    assert "| single |" in table and "| merged-0 |" in table  # nothing else tells them apart: their folders
    assert (tmp_path / "report" / "reward_vs_nfe.png").exists()


@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_sweep_through_a_launcher(tiny_checkpoint, tmp_path, launcher):
    result = svdd("run", "-m", f"hydra/launcher={launcher}", "seed=0,1",
                  *settings(tiny_checkpoint, "num_samples=2"), f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("*/summary.json"))) == 2
