"""reward=command: an external program scores samples (stdin lines -> stdout numbers); its faults are clear."""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from pathlib import Path

import pytest
import torch

from svdd_cli.core import OracleStats
from svdd_cli.errors import OracleError, UserError
from svdd_cli.rewards.command import Command
from tests.test_cli import TINY, svdd

SCORE = """import sys
for line in sys.stdin:
    print(line.count("G") + 0.5 * line.count("C"))
"""


def script(tmp_path: Path, text: str, name: str = "score.py") -> str:
    (tmp_path / name).write_text(text)
    return f"{sys.executable} {tmp_path / name}"


def test_the_scripts_numbers_are_the_rewards_in_samples_csv(tmp_path):
    (tmp_path / "score.py").write_text(SCORE)
    run = tmp_path / "run"
    result = svdd("run", "domain=dna", "reward=command", f"reward.cmd={sys.executable} score.py", "reward.batch_size=4",
                  *TINY, f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(run / "samples.csv")))
    assert len(rows) == 5
    for r in rows:
        assert float(r["reward"]) == r["sequence"].count("G") + 0.5 * r["sequence"].count("C")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["invalid_rewards"] == 0 and summary["oracle"]["calls"] > 0
    assert summary["oracle"]["failures"] == 0 == summary["oracle"]["timeouts"]


def test_batches_and_stats(tmp_path):
    reward = Command(script(tmp_path, SCORE), batch_size=2)
    assert isinstance(reward, OracleStats)
    out = reward(["GGC", "AAA", "CCCC", "G", "TGT"])
    assert out.tolist() == [2.5, 0.0, 2.0, 1.0, 1.0]
    assert reward.stats() == {"calls": 3, "failures": 0, "timeouts": 0}


def test_images_arrive_as_png_paths(tmp_path):
    mean = "import sys\nfrom PIL import Image\nimport numpy as np\nfor p in sys.stdin:\n" \
           "    print(np.asarray(Image.open(p.strip())).mean() / 255)\n"
    reward = Command(script(tmp_path, mean))
    images = [torch.full((1, 4, 4), 0.5), torch.ones(3, 4, 4)]
    assert reward(images).tolist() == pytest.approx([128 / 255, 1.0])


def test_garbage_and_missing_lines_are_nan(tmp_path):
    garbage = "import sys\nlines = sys.stdin.read().splitlines()\nprint('1.5')\nprint('not a number')\n"
    out = Command(script(tmp_path, garbage))(["A", "B", "C"])
    assert out[0] == 1.5 and math.isnan(out[1]) and math.isnan(out[2])


def test_a_non_zero_exit_raises_oracle_error_with_the_last_stderr_line(tmp_path):
    failing = "import sys\nsys.stdin.read()\nprint('loading model', file=sys.stderr)\n" \
              "print('KeyError: weights.pt', file=sys.stderr)\nsys.exit(1)\n"
    reward = Command(script(tmp_path, failing))
    with pytest.raises(OracleError, match=re.escape("exited with status 1: KeyError: weights.pt")):
        reward(["ACGT"])
    assert reward.stats()["failures"] == 1


def test_a_hanging_program_is_killed_at_the_timeout(tmp_path):
    hanging = "import sys, time\nprint('warming up', file=sys.stderr, flush=True)\ntime.sleep(60)\n"
    reward = Command(script(tmp_path, hanging), timeout=1.0)
    with pytest.raises(OracleError, match=re.escape("ran past reward.timeout=1s on 2 samples: warming up")):
        reward(["ACGT", "GG"])
    assert reward.stats()["timeouts"] == 1


@pytest.mark.parametrize(("cmd", "message"), [(None, "reward.cmd is not set"),
                                              ("no-such-program-xyz --flag", "no-such-program-xyz is not a program")])
def test_a_missing_program_is_a_one_line_user_error(cmd, message):
    with pytest.raises(UserError, match=re.escape(message)):
        Command(cmd)


def test_the_cli_reports_a_failing_oracle_run_in_one_line(tmp_path):
    (tmp_path / "bad.py").write_text("import sys\nsys.exit('no license for the scorer')\n")
    result = svdd("run", "domain=dna", "reward=command", f"reward.cmd={sys.executable} bad.py", *TINY,
                  f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2  # every value of the batch is invalid: the run stops with the program's stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no license for the scorer" in lines[0], result.stderr
