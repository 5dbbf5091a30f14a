"""`svdd` console script: a subcommand name -> a Hydra app over the top-level configs/ folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

USAGE = """usage: svdd <command> [overrides...]

Steer pre-trained diffusion models toward high rewards at inference time (SVDD and relatives).

commands:
  run     sample from a domain's pre-trained model steered by a reward; writes a run folder
          e.g. svdd run domain=dna reward=enhancer sampler=svdd sampler.num_candidates=10

`svdd run --help` lists config groups and settings; `svdd run --cfg job` prints the composed config.
"""

GROUP_OVERRIDE = re.compile(r"^[+~]?(\w+)=(.+)$")


def check_group_choices(args: list[str], configs: Path) -> None:
    """Unknown options of a config group are reported in one line with the available ones."""
    from svdd_cli.errors import UserError

    for arg in args:
        match = GROUP_OVERRIDE.match(arg)
        if not match or not (configs / match[1]).is_dir():
            continue
        group, values = match[1], match[2]
        available = sorted(p.stem for p in (configs / group).glob("*.yaml"))
        for value in values.split(","):
            if value and not any(c in value for c in "()[]{}$*") and value not in available:
                raise UserError(f"{group}={value} is not an option; available {group} options: "
                                + ", ".join(available))


def run_command(args: list[str]) -> int:
    import hydra
    from omegaconf import DictConfig

    from svdd_cli.assets import asset_root, register_resolver
    from svdd_cli.errors import UserError
    from svdd_cli.run import run

    configs = asset_root() / "configs"
    check_group_choices(args, configs)
    register_resolver()

    @hydra.main(config_path=str(configs), config_name="config", version_base="1.3")
    def app(cfg: DictConfig) -> float:
        try:
            return run(cfg)
        except UserError as err:  # raised inside Hydra, which would print a traceback
            sys.exit(fail(err))

    sys.argv = ["svdd run", *args]
    app()
    return 0


COMMANDS = {"run": run_command}


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
