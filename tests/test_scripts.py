"""The result scripts' fault paths: nothing committed is overwritten by an empty result."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tradeoff_plot_only_without_runs_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "docs").mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "tradeoff.py"), "dna", "--plot-only",
                           "--runs", str(tmp_path / "none")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "no finished run under" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list((tmp_path / "docs").iterdir())


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_samplers_table_shows_headline_naturalness_and_extrapolating_oracles():
    compare = load_script("compare_samplers")
    stats = {"median": 6.0, "top10": 8.0}
    summary = {"choices": {"sampler": "svdd", "domain": "dna"}, "reward": stats, "evaluation_reward": stats,
               "evaluations": {"evaluation_kmer": {"median": 1.0}}, "nfe_per_sample": 266, "wall_s": 39,
               "naturalness": {"log_likelihood": {"median": -264.5}, "kmer3_r_hepg2": 0.943, "gc_percentile": 63.4,
                               "hamming_diversity": 0.75, "gc_mean": 0.488},
               "real_quantiles": {"reward": {"p99": 4.78}, "evaluation_reward": {"p99": 6.5},
                                  "evaluation_kmer": {"p99": 5.46}}}
    header, _, row = compare.table([summary]).splitlines()
    assert header.split(" | ")[-4:] == ["kmer3_r_hepg2", "gc_percentile", "hamming_diversity", "beyond real p99 |"]
    assert row.endswith("| 0.943 | 63.400 | 0.750 | reward |")
    assert "gc_mean" in compare.table([summary], "all") and "gc_mean" not in compare.table([summary])
