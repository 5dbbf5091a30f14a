"""`svdd run`: build domain, model, reward and sampler from the config, then api.steer writes the run folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from svdd_cli.api import check_fits, steer
from svdd_cli.compose import instantiate_part, reward_nodes
from svdd_cli.constraints import Constraints
from svdd_cli.core import DiffusionModel, Domain, Reward, Sampler, Trace
from svdd_cli.settings import Settings


@dataclass
class Parts:
    domain: Domain
    model: DiffusionModel
    reward: Reward
    evaluation: Reward | None
    sampler: Sampler
    constraints: Constraints
    natural: Reward | None


def settings(cfg: DictConfig) -> Settings:
    """The run's Settings from the top-level keys of the config (checked: one-line UserErrors)."""
    return Settings(**{key: cfg[key] for key in Settings.keys()})


def build_task(cfg: DictConfig) -> tuple[Domain, DiffusionModel, Reward, Reward | None]:
    """Domain, model, reward and evaluation reward, checked to fit together; bad values and missing files
    become one-line UserErrors."""
    reward_cfg, evaluation_cfg, _ = reward_nodes(cfg.reward)
    domain = instantiate_part(cfg.domain, "domain")
    model = instantiate_part(cfg.model, "model")
    reward = instantiate_part(reward_cfg, "reward")
    check_fits(domain, model, reward)
    evaluation = instantiate_part(evaluation_cfg, "reward.evaluation") if evaluation_cfg else None
    return domain, model, reward, evaluation


def build_natural(cfg: DictConfig) -> Reward | None:
    """The reward's `natural` terms (name -> weight) as one weighted sum the sampler steers by (None: none)."""
    _, _, terms = reward_nodes(cfg.reward)
    if not terms:
        return None
    from svdd_cli.rewards.composite import Composite

    return Composite(terms, device=cfg.device, checkpoints=cfg.paths.checkpoints,
                     domain=OmegaConf.select(cfg, "domain.name"))


def build(cfg: DictConfig) -> Parts:
    """Every part of a run: the task (build_task), the sampler, the hard constraints and the naturalness terms."""
    return Parts(*build_task(cfg), instantiate_part(cfg.sampler, "sampler"),
                 Constraints.from_config(OmegaConf.to_container(cfg.constraints, resolve=True)), build_natural(cfg))


def run(cfg: DictConfig, folder: Path, choices: dict[str, str] | None = None) -> float | None:
    """Sample this shard's batches of cfg.num_samples outputs into `folder`; return the median reward."""
    config = settings(cfg)
    record = OmegaConf.to_container(cfg, resolve=True)
    record.pop("resume")
    parts = build(cfg)
    steps = len(parts.model.timesteps()) - 1
    with progress_bar(config, steps) as advance:
        result = steer(parts.model, parts.reward, parts.sampler, domain=parts.domain, evaluation=parts.evaluation,
                       out=folder, resume=cfg.resume, labels=choices or default_choices(cfg), record=record,
                       progress=advance, constraints=parts.constraints, natural=parts.natural, **vars(config))
    summary = result.summary
    evaluation = "" if parts.evaluation is None else \
        f", evaluation median {number(summary['evaluation_reward']['median'])}"  # only with a held-out oracle
    print(f"finished: {len(result.rows)} samples in {folder}; reward median {number(summary['reward']['median'])}"
          f"{evaluation}; NFE/sample {summary['nfe_per_sample']:.0f}; distinct oracle calls "
          f"{summary.get('oracle_calls', {}).get('distinct', '-')}{constrained(summary)}")
    for warning in summary.get("warnings", []):
        print(f"warning: {warning}")
    for note in summary.get("notes", []):
        print(f"note: {note}")
    return summary["reward"]["median"]


def constrained(summary: dict[str, Any]) -> str:
    """The finished line's account of the hard constraints ('' without any)."""
    if "constraints" not in summary:
        return ""
    section = summary["constraints"]
    return f"; infeasible outputs {section['infeasible_outputs']} ({section['redraws']} redrawn)"


def number(value: float | None) -> str:
    """A median as the console shows it: 4 significant digits, "none" when no sample had a valid value."""
    return "none" if value is None else f"{value:.4g}"


def default_choices(cfg: DictConfig) -> dict[str, str]:
    """The config choices when no Hydra app composed cfg (tests, notebooks): the domain's name only."""
    return {"domain": cfg.domain.name}


@contextmanager
def progress_bar(config: Settings, steps: int) -> Iterator[Trace]:
    """A rich bar over the run's steps in a terminal (logs carry the progress elsewhere); yields the trace hook."""
    if not sys.stdout.isatty():
        yield lambda record: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = len(config.batches()) * steps
    with Progress(TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("steps", total=total)

        def advance(record: dict[str, Any]) -> None:
            if isinstance(record.get("step"), int):
                bar.advance(task)

        yield advance
