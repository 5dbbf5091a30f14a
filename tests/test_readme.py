"""The README's commands, as written, from a fresh folder outside the checkout.

Every `svdd ...` line of the README's ```bash blocks and every `svdd ...` in its inline code is collected, in README
order. The code blocks whose first line names a file (`# score.py: ...`, `# my_configs/reward/gc_target.yaml`) are
written into the folder first, and the example models (`python scripts/write_example_models.py --out examples`).

Default run: every command passes the CLI's own checks (group options, settings and values compose; nothing is
sampled); the commands that sample nothing run; a block after `<!-- readme-test: fails -->` holds mistakes, each
failing in one line with exit status 2; a block after `<!-- readme-test: quick -->` runs as written (the first run,
about 30 s). Both print what the next output block of the README shows (`<...>` stands for anything, a decimal
number for any decimal number). `-m slow`: every other command runs as written, one test per command or bash block
(its lines in order). Commands with a placeholder (`/path/to/...`, `/data/...`, `<time>`, `DIR`) need files a
reader brings: they are only checked.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, replace
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
CHECKED = ("fails", "quick")  # tags whose output the README shows and the test compares


@dataclass(frozen=True)
class Case:
    """One README bash block (its `svdd` lines, run in order) or one inline `svdd ...` command."""

    lines: tuple[str, ...]
    tag: str = ""  # "" | "quick" | "fails"
    output: tuple[str, ...] = ()  # what the README shows it prints (tags in CHECKED)

    @property
    def placeholder(self) -> bool:
        return any(p in line for line in self.lines for p in PLACEHOLDERS)

    @property
    def samples(self) -> bool:
        return not all(any(flag in line.split() for flag in NO_SAMPLING) for line in self.lines)


def read_readme(text: str) -> tuple[list[Case], dict[str, str]]:
    """(the cases in README order, {relative path: content} of the code blocks that name a file)."""
    cases, files, tag, block, lang, waiting = [], {}, "", None, "", None
    for line in text.splitlines():
        fence = FENCE.match(line.strip())
        if block is None and fence:
            block, lang = [], fence[1]
        elif block is not None and line.strip() == "```":
            commands = tuple(c for c in block if lang == "bash" and is_svdd(c))
            if waiting is not None and not lang:  # the output the tagged block before prints
                cases[waiting] = replace(cases[waiting], output=tuple(block))
                waiting = None
            if commands:
                cases.append(Case(commands, tag))
                waiting = len(cases) - 1 if tag in CHECKED else None
            named = NAMED_FILE.match(block[0]) if block else None
            if named and lang in ("python", "yaml"):
                files[named[1]] = "\n".join(block) + "\n"
            block, tag = None, ""
        elif block is not None:
            block.append(line)
        elif TAG.search(line):
            tag = TAG.search(line)[1]
        else:
            cases += [Case((c,)) for c in INLINE.findall(line) if len(split(c)[1]) > 1 or c[5:6] == "-"]
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


def shown(line: str) -> re.Pattern:
    """A line of README output as a pattern: `<...>` is anything, a decimal number any decimal number."""
    parts = re.split(r"(<[^>]+>|-?\d+\.\d+)", line)
    return re.compile("".join(".+?" if p.startswith("<") else r"-?\d+\.\d+" if re.fullmatch(r"-?\d+\.\d+", p)
                              else re.escape(p) for p in parts if p))


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


def run_case(case: Case, folder: Path) -> list[str]:
    """Run every line of a case as written; each must exit 0 (2 for `fails`) without a traceback. Returns the lines
    they printed."""
    printed = []
    for line in case.lines:
        start, cpu = time.perf_counter(), children_cpu()
        done = svdd(line, folder)
        print(f"\n{time.perf_counter() - start:6.1f} s wall {children_cpu() - cpu:6.1f} s cpu  {line}")
        assert done.returncode == (2 if case.tag == "fails" else 0), (line, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        if case.tag == "fails":
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        printed += (done.stdout + done.stderr).splitlines()
    return printed


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A fresh folder with the README's named files."""
    folder = tmp_path_factory.mktemp("readme")
    for name, content in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def examples(folder: Path) -> Path:
    """The tiny random models the README's own-model commands read."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "write_example_models.py"), "--out", "examples"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder / "examples"


def test_the_readme_has_commands_files_and_outputs():
    assert len(CASES) >= 40 and {"score.py", "my_configs/gc_target.py", "my_configs/reward/gc_target.yaml",
                                 "my_configs/model/my_dna.yaml"} <= set(FILES)
    checked = [c for c in CASES if c.tag in CHECKED]
    assert {c.tag for c in checked} == set(CHECKED) and all(c.output for c in checked)


def test_an_output_line_matches_what_it_shows():
    pattern = shown("finished: 16 samples in runs/x/<time>; reward median 2.76, evaluation median -3.5; NFE/sample 266")
    assert pattern.fullmatch("finished: 16 samples in runs/x/2026-01-01_10-00-00; reward median 1.5, "
                             "evaluation median 3.25; NFE/sample 266")
    assert not pattern.fullmatch("finished: 16 samples in runs/x/t; reward median 1.5, evaluation median 3.25; "
                                 "NFE/sample 491")


@pytest.mark.parametrize("case", [c for c in CASES if c.tag != "fails"], ids=case_id)
def test_every_command_composes(case: Case, folder: Path, monkeypatch):
    """The checks `svdd` runs before anything else: group options and the composed config."""
    from svdd_cli.assets import asset_root, register_resolver
    from svdd_cli.cli import check_composes, check_group_choices, user_config_dirs

    monkeypatch.chdir(folder)
    register_resolver()
    configs = asset_root() / "configs"
    for line in case.lines:
        _, args = split(line)
        if args[0] not in ("run", "train-value") or any(flag in args for flag in NO_SAMPLING):
            continue
        check_group_choices(args[1:], [configs, *user_config_dirs(args[1:])])
        check_composes(args[1:], configs, "config" if args[0] == "run" else "train_value")


@pytest.mark.parametrize("case", [c for c in CASES if c.tag in CHECKED], ids=case_id)
def test_the_tagged_blocks_print_what_the_readme_shows(case: Case, folder: Path):
    printed = run_case(case, folder)
    for expected in case.output:  # in order, each on a line of its own
        pattern = shown(expected)
        matched = next((k for k, line in enumerate(printed) if pattern.fullmatch(line)), None)
        assert matched is not None, (expected, printed[-20:])
        printed = printed[matched + 1:]


@pytest.mark.parametrize("case", [c for c in CASES if not c.tag and not c.samples], ids=case_id)
def test_the_commands_that_sample_nothing_run(case: Case, folder: Path):
    assert run_case(case, folder)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if not c.tag and c.samples and not c.placeholder], ids=case_id)
def test_every_command_runs_as_written(case: Case, folder: Path, examples: Path):
    run_case(case, folder)
