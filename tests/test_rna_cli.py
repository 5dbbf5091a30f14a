"""`svdd run domain=rna ...` end to end on the shipped RNA checkpoints, shrunk to a few steps and samples."""

from __future__ import annotations

import csv
import json

import pytest
import RNA
from Bio import SeqIO

from tests.test_cli import TINY, svdd


def read_rows(folder) -> list[dict[str, str]]:
    with open(folder / "samples.csv") as f:
        return list(csv.DictReader(f))


def test_rna_mfe_run_writes_every_output(tmp_path):
    result = svdd("run", "domain=rna", "reward=mfe", *TINY, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path)
    assert len(rows) == 5
    assert set(rows[0]) >= {"id", "sequence", "reward", "mfe", "structure", "gc", "uaug_count", "log_likelihood"}
    for r in rows:
        structure, mfe = RNA.fold(r["sequence"])
        assert len(r["sequence"]) == 50 and set(r["sequence"]) <= set("ACGU")
        assert r["structure"] == structure and float(r["mfe"]) == pytest.approx(mfe, abs=1e-4)
        assert float(r["reward"]) == pytest.approx(-mfe, abs=1e-4)  # direction=stable
    records = list(SeqIO.parse(tmp_path / "samples.fasta", "fasta"))
    assert [str(r.seq) for r in records] == [r["sequence"] for r in rows]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["reward"]["median"] is not None
    naturalness = summary["naturalness"]
    assert 0 <= naturalness["kmer3_distance"] <= 1 and naturalness["log_likelihood"]["median"] < 0
    assert {"gc_mean", "mfe_mean", "uaug_rate", "kozak_purine_rate", "mfe_percentile", "hamming_diversity"} <= set(
        naturalness)
    assert summary["oracle"]["scored"] > 0  # the ViennaRNA pool was used


def test_rna_surrogate_run_reports_the_real_mfe(tmp_path):
    tiny = [arg for arg in TINY if not arg.startswith("sampler.")]
    result = svdd("run", "domain=rna", "reward=mfe_surrogate", "sampler=ancestral", *tiny, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    for r in read_rows(tmp_path):
        assert float(r["evaluation_reward"]) == pytest.approx(-RNA.fold(r["sequence"])[1], abs=1e-4)


def test_a_bad_structure_target_is_a_one_line_error(tmp_path):
    """Hydra's override grammar needs brackets quoted: svdd run reward.target="'((((....))))'"."""
    result = svdd("run", "domain=rna", "reward=structure", "reward.target='((((....))))'", *TINY,
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "has 12 characters" in lines[0], result.stderr
