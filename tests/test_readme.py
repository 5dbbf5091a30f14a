"""The README's commands, as written, from a fresh folder outside the checkout.

Every `svdd ...` line of the README's ```bash blocks and every `svdd ...` in its inline code is collected, in README
order. A block after `<!-- readme-test: fails -->` holds mistakes: each must fail in one line with exit status 2; a
block after `<!-- readme-test: slow -->` takes over a minute. The code blocks whose first line names a file
(`# score.py: ...`, `# my_configs/reward/gc_target.yaml`) are written into the folder first, and the example models
(`python scripts/write_example_models.py --out examples`) when a command reads `examples/`.

Default run: every command is checked by the CLI's own checks (options, settings, values compose; nothing is
sampled), the mistakes fail as the README says, and the commands that sample nothing run. `-m slow`: every other
command runs as written, one test per command (a bash block's lines together, in order). Commands with a
placeholder (`/path/to/...`, `/data/...`, `<time>`, `DIR`) need files a reader brings and are only checked.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TAG = re.compile(r"<!-- readme-test: (\w+) -->")
FENCE = re.compile(r"^```(\w*)$")
INLINE = re.compile(r"`(svdd [^`]+)`")
NAMED_FILE = re.compile(r"^# ([\w./-]+\.(?:py|ya?ml))\b")
ENV = re.compile(r"^(\w+)=(\S+)$")
PLACEHOLDERS = ("/path/to/", "/data/", "<", "DIR")
NO_SAMPLING = ("--help", "--cfg", "--version")


@dataclass(frozen=True)
class Case:
    """One README bash block (its `svdd` lines, run in order) or one inline `svdd ...` command."""

    lines: tuple[str, ...]
    tag: str  # "" | "slow" | "fails"

    @property
    def placeholder(self) -> bool:
        return any(p in line for line in self.lines for p in PLACEHOLDERS)

    @property
    def samples(self) -> bool:
        return not all(any(flag in line.split() for flag in NO_SAMPLING) for line in self.lines)


def read_readme(text: str) -> tuple[list[Case], dict[str, str]]:
    """(the cases in README order, {relative path: content} of the code blocks that name a file)."""
    cases, files, tag, block, lang = [], {}, "", None, ""
    for line in text.splitlines():
        fence = FENCE.match(line.strip())
        if block is None and fence:
            block, lang = [], fence[1]
        elif block is not None and line.strip() == "```":
            commands = tuple(c for c in block if lang == "bash" and is_svdd(c))
            if commands:
                cases.append(Case(commands, tag))
            named = NAMED_FILE.match(block[0]) if block else None
            if named and lang in ("python", "yaml"):
                files[named[1]] = "\n".join(block) + "\n"
            block, tag = None, ""
        elif block is not None:
            block.append(line)
        elif TAG.search(line):
            tag = TAG.search(line)[1]
        else:
            cases += [Case((c,), "") for c in INLINE.findall(line) if len(split(c)[1]) > 1 or "-" in c[5:6]]
    unique = list(dict.fromkeys(cases))  # a command shown twice runs once
    return unique, files


def is_svdd(line: str) -> bool:
    words = shlex.split(line, comments=True)
    while words and ENV.match(words[0]):
        words = words[1:]
    return bool(words) and words[0] == "svdd"


def split(line: str) -> tuple[dict[str, str], list[str]]:
    """`VAR=value svdd args  # comment` -> ({VAR: value}, args), as a shell splits it."""
    words = shlex.split(line, comments=True)
    env = {}
    while words and ENV.match(words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    return env, words[1:]


CASES, FILES = read_readme(README.read_text())


def case_id(case: Case) -> str:
    return " && ".join(case.lines)[:90]


def svdd(line: str, folder: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """One README line in `folder`, through the `svdd` entry point of the tree under test."""
    env_prefix, args = split(line)
    paths = [p for p in (env_prefix.pop("PYTHONPATH", None), str(ROOT)) if p]
    env = {**os.environ, **env_prefix, "PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": "1"}  # a shared CPU machine: one thread per job is faster than two contending
    return subprocess.run([sys.executable, "-m", "svdd_cli.cli", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)


def children_cpu() -> float:
    """CPU seconds of the finished child processes (on a shared machine a truer cost than wall time)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A fresh folder with the README's named files (and, for the slow cases, the example models)."""
    folder = tmp_path_factory.mktemp("readme")
    for name, content in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def examples(folder: Path) -> Path:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "write_example_models.py"), "--out", "examples"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder / "examples"


def test_the_readme_has_commands_and_files():
    assert len(CASES) >= 40 and {"score.py", "my_configs/gc_target.py", "my_configs/reward/gc_target.yaml",
                                 "my_configs/model/my_dna.yaml"} <= set(FILES)
    assert any(c.tag == "fails" for c in CASES) and any(c.tag == "slow" for c in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.tag != "fails"], ids=case_id)
def test_every_command_composes(case: Case, folder: Path, monkeypatch):
    """The checks `svdd` runs before anything else: group options, run folders, and the composed config."""
    from svdd_cli.assets import asset_root, register_resolver
    from svdd_cli.cli import check_composes, check_group_choices, user_config_dirs

    monkeypatch.chdir(folder)
    register_resolver()
    for line in case.lines:
        _, args = split(line)
        if args[0] not in ("run", "train-value") or any(flag in args for flag in NO_SAMPLING):
            continue
        configs = asset_root() / "configs"
        check_group_choices(args[1:], [configs, *user_config_dirs(args[1:])])
        check_composes(args[1:], configs, "config" if args[0] == "run" else "train_value")


@pytest.mark.parametrize("case", [c for c in CASES if c.tag == "fails"], ids=case_id)
def test_the_mistakes_fail_in_one_line(case: Case, folder: Path):
    for line in case.lines:
        done = svdd(line, folder, timeout=120)
        assert done.returncode == 2, (line, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("svdd: error: "), done.stderr


@pytest.mark.parametrize("case", [c for c in CASES if c.tag != "fails" and not c.samples], ids=case_id)
def test_the_commands_that_sample_nothing_run(case: Case, folder: Path):
    for line in case.lines:
        done = svdd(line, folder, timeout=120)
        assert done.returncode == 0 and done.stdout.strip(), (line, done.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c.tag != "fails" and c.samples and not c.placeholder],
                         ids=case_id)
def test_every_command_runs_as_written(case: Case, folder: Path, examples: Path):
    for line in case.lines:
        start, cpu = time.perf_counter(), children_cpu()
        done = svdd(line, folder)
        print(f"\n{time.perf_counter() - start:6.1f} s wall {children_cpu() - cpu:6.1f} s cpu  {line}")
        assert done.returncode == 0, (line, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
