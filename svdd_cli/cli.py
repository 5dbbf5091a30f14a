"""`svdd` console script: a subcommand name -> a Hydra app over the top-level configs/ folder."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

USAGE = """usage: svdd <command> [overrides...]

Steer pre-trained diffusion models toward high rewards at inference time (SVDD and relatives).

commands:
  run     sample from a domain's pre-trained model steered by a reward; writes a run folder
          e.g. svdd run domain=dna reward=enhancer sampler=svdd sampler.num_candidates=10
  train-value
          fit a value network v(x_t, t) on rollouts of the pre-trained model, for sampler=svdd_mc
          e.g. svdd train-value domain=dna reward=enhancer value.out=checkpoints/dna_enhancer_value
  merge   join the shards of sharded runs (num_shards > 1) found under folders
          e.g. svdd merge multirun/2026-11-22_10-00-00
  report  one markdown table + plots over the runs under folders
          e.g. svdd report multirun/2026-11-22_10-00-00 --out report/

`svdd run --help` lists config groups and settings; `svdd run --cfg job` prints the composed config
(the same for `svdd train-value`); `svdd --version` prints the version.
"""

GROUP_OVERRIDE = re.compile(r"^[+~]?(\w+)=(.+)$")


def user_config_dirs(args: list[str]) -> list[Path]:
    """Config folders the user adds to the search path: `--config-dir DIR` (`-cd DIR`) and
    `hydra.searchpath=[file://DIR,...]`."""
    dirs = []
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            dirs.append(args[i + 1])
        elif arg.startswith("--config-dir="):
            dirs.append(arg.split("=", 1)[1])
        elif arg.startswith("hydra.searchpath="):
            dirs += [p.strip() for p in arg.split("=", 1)[1].strip("[]").split(",") if p.strip()]
    return [Path(d.removeprefix("file://")) for d in dirs if not d.startswith("pkg://")]


def check_group_choices(args: list[str], roots: list[Path]) -> None:
    """Unknown options of a config group (in the shipped configs or the user's config folders) are reported in
    one line with the available ones."""
    from svdd_cli.errors import UserError

    for arg in args:
        match = GROUP_OVERRIDE.match(arg)
        if not match or not any((root / match[1]).is_dir() for root in roots):
            continue
        group, values = match[1], match[2]
        available = sorted({p.stem for root in roots for p in (root / group).glob("*.yaml")})
        for value in values.split(","):
            if value and not any(c in value for c in "()[]{}$*") and value not in available:
                raise UserError(f"{group}={value} is not an option; available {group} options: "
                                + ", ".join(available))


def check_paths(args: list[str]) -> None:
    """A run folder that cannot be made (`hydra.run.dir` under a file, not writable) and a Slurm launcher without
    Slurm are one-line errors before Hydra starts."""
    import shutil

    from svdd_cli.errors import UserError

    for arg in args:
        key, _, value = arg.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            existing = Path(value).absolute()
            while not existing.exists():
                existing = existing.parent
            if not existing.is_dir():
                raise UserError(f"{key}={value}: {existing} is a file, not a folder; choose another {key}")
            refused = write_refused(existing)
            if refused:
                raise UserError(f"{key}={value}: cannot write in {existing} ({refused}); choose another {key}")
        if key == "hydra/launcher" and value in ("slurm", "submitit_slurm") and shutil.which("sbatch") is None:
            raise UserError(f"hydra/launcher={value} needs Slurm (`sbatch` is not on PATH); on this machine use "
                            "hydra/launcher=local or hydra/launcher=submitit_local")


def write_refused(folder: Path) -> str | None:
    """Why a file cannot be made in `folder` (None when it can): a real write of a probe file, since os.access
    says yes to root even where the file system refuses (/proc, /sys, read-only mounts)."""
    import os
    import tempfile

    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".svdd-probe-")
    except OSError as err:
        return err.strerror or type(err).__name__
    os.close(handle)
    os.unlink(probe)
    return None


def check_composes(args: list[str], configs: Path, config_name: str = "config", prog: str = "svdd run") -> None:
    """Compose the config with the first value of every sweep, so that a bad override (a key that does
    not exist, a malformed value) is one line here instead of Hydra's multi-line report."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from svdd_cli.errors import UserError

    parsed_args = get_args_parser().parse_args(args)  # Hydra's own flags (--cfg job, -m) set aside
    overrides = parsed_args.overrides
    if parsed_args.config_dir and not any(o.startswith("hydra.searchpath=") for o in overrides):
        overrides = [*overrides, f"hydra.searchpath=[file://{Path(parsed_args.config_dir).absolute()}]"]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        first = [f"{o.get_key_element()}={next(o.sweep_string_iterator())}" if o.is_sweep_override()
                 else o.input_line for o in parsed]
        with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
            compose(config_name=config_name, overrides=first)
    except (HydraException, OmegaConfBaseException) as err:
        first_line = " ".join(str(err).split("\n")[0].split())
        if first_line.startswith("Could not override"):  # a key the composed config does not have
            first_line = first_line.rstrip(".") + ": no such setting"
        if first_line.startswith("Could not append"):  # +key=value on a key the config has (svdd_dna's natural terms)
            raise UserError(f"{first_line} Set it without the +, or with ++ (adds or sets)") from None
        raise UserError(f"{first_line} (`{prog} --help` lists the settings)") from None


def hydra_command(args: list[str], config_name: str, prog: str, job: Callable[[DictConfig], Any]) -> int:
    """Run `job` as a Hydra app over configs/<config_name>.yaml, bad overrides and UserErrors as one line."""
    import hydra

    from svdd_cli.assets import asset_root, register_resolver
    from svdd_cli.errors import UserError

    configs = asset_root() / "configs"
    check_group_choices(args, [configs, *user_config_dirs(args)])
    check_paths(args)
    register_resolver()
    check_composes(args, configs, config_name, prog)

    @hydra.main(config_path=str(configs), config_name=config_name, version_base="1.3")
    def app(cfg: DictConfig) -> Any:
        try:
            return job(cfg)
        except UserError as err:  # raised inside Hydra, which would print a traceback
            remove_if_empty(run_location()[0])
            sys.exit(fail(err))

    sys.argv = [prog, *args]
    app()
    return 0


def run_command(args: list[str]) -> int:
    def job(cfg: DictConfig) -> Any:
        from svdd_cli.settings import Settings

        Settings(**{key: cfg[key] for key in Settings.keys()})  # bad top-level values: one line before torch loads
        from svdd_cli.run import run  # imported late: `svdd run --help` and bad overrides answer without torch

        return run(cfg, *run_location())

    return hydra_command(args, "config", "svdd run", job)


OUR_FILES = ("trace.jsonl", "summary.json", "reward_hist.png", "reward_steps.png")


def remove_if_empty(folder: Path) -> None:
    """Remove a run folder that a failed job left without a finished sample: only Hydra's and our own files."""
    import shutil

    from svdd_cli.outputs import RUNNING

    if not folder.is_dir() or (folder / "samples.jsonl").exists() or (folder / RUNNING).exists():
        return  # finished samples, or another run writing it
    shutil.rmtree(folder / ".hydra", ignore_errors=True)
    for f in [*folder.glob("*.log"), *(folder / name for name in OUR_FILES)]:
        f.unlink(missing_ok=True)
    while folder.is_dir() and not any(folder.iterdir()) and folder != Path.cwd():  # and runs/<name>/ if empty
        folder.rmdir()
        folder = folder.parent


def run_location() -> tuple[Path, dict[str, str]]:
    """The run folder Hydra made for this job and the config-group choices it composed."""
    from hydra.core.hydra_config import HydraConfig

    runtime = HydraConfig.get().runtime
    return Path(runtime.output_dir), {k: v for k, v in runtime.choices.items() if not k.startswith("hydra")}


def train_value_command(args: list[str]) -> int:
    def job(cfg: DictConfig) -> Any:
        from svdd_cli.train_value import train_value

        return train_value(cfg, " ".join(["svdd train-value", *args]), *run_location())

    return hydra_command(args, "train_value", "svdd train-value", job)


def merge_command(args: list[str]) -> int:
    from svdd_cli.merge import merge

    parser = argparse.ArgumentParser(prog="svdd merge", description="Join the shards of sharded runs.")
    parser.add_argument("dirs", nargs="+", type=Path, help="folders holding the shard run folders")
    merge(parser.parse_args(args).dirs)
    return 0


def report_command(args: list[str]) -> int:
    from svdd_cli.report import report

    parser = argparse.ArgumentParser(prog="svdd report", description="One table + plots over many runs.")
    parser.add_argument("dirs", nargs="+", type=Path, help="run or sweep folders")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: the first folder)")
    parsed = parser.parse_args(args)
    report(parsed.dirs, parsed.out or parsed.dirs[0])
    return 0


COMMANDS = {"run": run_command, "train-value": train_value_command, "merge": merge_command,
            "report": report_command}


def fail(err: Exception) -> int:
    print(f"svdd: error: {err}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point; user mistakes print one line on stderr and exit with 2, Ctrl-C with 130."""
    from svdd_cli.errors import UserError

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if args[0] in ("-V", "--version"):
        from svdd_cli import __version__

        print(f"svdd {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"svdd: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)} (see svdd --help)",
              file=sys.stderr)
        return 2
    try:
        return command(args[1:])
    except UserError as err:
        return fail(err)
    except KeyboardInterrupt:
        print("svdd: interrupted; finished batches are kept in the run folder", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
