"""Any program as a reward: samples one per line on its stdin, one number per line on its stdout.

    svdd run domain=dna reward=command reward.cmd="Rscript score.R"
    svdd run domain=molecule reward=command reward.cmd="python dock.py --target DRD2" reward.timeout=600

A line is the sample itself (a DNA/RNA/protein sequence, a SMILES string), or for images the path of a PNG
written to a temporary folder (deleted after the call). The program runs once per `batch_size` samples, in the
current folder. Line i of its output is the reward of sample i (higher is better); a line that is not a number,
or a missing line, gives NaN for that sample, which the run counts as invalid. A non-zero exit or a run past
`timeout` seconds raises OracleError with the program's last stderr line: the whole batch is invalid.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from svdd_cli.errors import OracleError, UserError


def to_png(image: Tensor, path: Path) -> str:
    """An image (C, H, W) in [0, 1] written as an 8-bit PNG; returns its path."""
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return str(path)


def parse_numbers(stdout: str, n: int) -> Tensor:
    """The first n lines of stdout as floats (n,); NaN for a line that is not a number or is missing."""
    lines = stdout.splitlines()
    values = []
    for i in range(n):
        try:
            values.append(float(lines[i]))
        except (IndexError, ValueError):
            values.append(math.nan)
    return torch.tensor(values, dtype=torch.float32)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no stderr)"


class Command:
    """An external program as an oracle for every domain; reports calls, failures, timeouts (core.OracleStats)."""

    domains = ("dna", "rna", "molecule", "protein", "image")

    def __init__(self, cmd: str | Sequence[str] | None, batch_size: int = 256, timeout: float = 300.0) -> None:
        self.argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])
        if not self.argv:
            raise UserError("reward.cmd is not set: give the program that scores samples, e.g. "
                            "reward.cmd=\"python score.py\" (samples on stdin, one number per line on stdout)")
        if shutil.which(self.argv[0]) is None:
            raise UserError(f"reward.cmd: {self.argv[0]} is not a program on PATH nor an executable file")
        if batch_size < 1 or timeout <= 0:
            raise UserError(f"reward.batch_size={batch_size} must be >= 1 and reward.timeout={timeout} > 0")
        self.batch_size, self.timeout = batch_size, timeout
        self.name = shlex.join(self.argv)
        self.calls = self.failures = self.timeouts = 0

    def __call__(self, samples: list[Any]) -> Tensor:
        """(B,) rewards, batch_size samples per run of the program."""
        if not samples:
            return torch.zeros(0)
        return torch.cat([self._run(samples[i:i + self.batch_size]) for i in range(0, len(samples), self.batch_size)])

    def _run(self, samples: list[Any]) -> Tensor:
        with tempfile.TemporaryDirectory(prefix="svdd-command-") as tmp:
            lines = [to_png(s, Path(tmp) / f"{i:06d}.png") if isinstance(s, Tensor) else str(s)
                     for i, s in enumerate(samples)]
            self.calls += 1
            process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)
            try:
                stdout, stderr = process.communicate("".join(line + "\n" for line in lines), timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the program and whatever it started
                _, stderr = process.communicate()
                self.timeouts += 1
                raise OracleError(f"reward.cmd `{self.name}` ran past reward.timeout={self.timeout:g}s on "
                                  f"{len(samples)} samples: {last_line(stderr)}") from None
        if process.returncode != 0:
            self.failures += 1
            raise OracleError(f"reward.cmd `{self.name}` exited with status {process.returncode}: {last_line(stderr)}")
        return parse_numbers(stdout, len(samples))

    def stats(self) -> dict[str, float]:
        """Program runs, non-zero exits and timeouts."""
        return {"calls": self.calls, "failures": self.failures, "timeouts": self.timeouts}
