"""The result scripts' fault paths: nothing committed is overwritten by an empty result."""

from __future__ import annotations

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
