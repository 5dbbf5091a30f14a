"""scripts/bench_docking.py: svdd's docking search beside best_of_n at one budget of distinct Vina calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "scripts" / "bench_docking.py")


def test_an_unknown_method_is_one_line_naming_the_known_ones(tmp_path):
    done = subprocess.run([sys.executable, SCRIPT, "--methods", "evolve,beam", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == "--methods 'beam': use any of evolve, best_of_n"
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_both_methods_stay_within_the_budget_and_the_table_has_their_rows(tmp_path):
    pytest.importorskip("vina")
    done = subprocess.run([sys.executable, SCRIPT, "--budget", "12", "--designs", "2", "--out", str(tmp_path), "--",
                           "reward.evaluation.exhaustiveness=1", "likelihood_draws=1"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "docking.md").read_text().splitlines()
    rows = [line.split(" | ") for line in table if line.startswith("| evolve") or line.startswith("| best_of_n")]
    assert [r[0] for r in rows] == ["| evolve", "| best_of_n"]
    assert all(0 < int(r[2]) <= 12 and float(r[3]) < 0 and float(r[6]) < 0 and float(r[7]) == 1.0 for r in rows)
