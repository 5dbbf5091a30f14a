"""`svdd run`: build domain, model, reward and sampler from the config, sample in batches, write outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from svdd_cli.core import (
    PRECISIONS,
    CountedModel,
    CountedReward,
    Counters,
    DiffusionModel,
    Domain,
    OracleStats,
    Reward,
    Sampler,
    counted_model,
    counted_reward,
)
from svdd_cli.errors import UserError
from svdd_cli.outputs import RunFolder
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.summary import device_name, make_plots, summarise


@dataclass
class Parts:
    domain: Domain
    model: DiffusionModel
    reward: Reward
    evaluation: Reward | None
    sampler: Sampler


def check_settings(cfg: DictConfig) -> None:
    for key, least in (("num_samples", 1), ("batch_size", 1), ("max_batch", 1), ("num_shards", 1), ("shard", 0),
                       ("seed", 0), ("reference_samples", 0), ("likelihood_draws", 1)):
        if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] < least:
            raise UserError(f"{key}={cfg[key]!r} must be an integer >= {least}")
    if not 0 <= cfg.shard < cfg.num_shards:
        raise UserError(f"shard={cfg.shard} must be in 0..num_shards-1 = 0..{cfg.num_shards - 1}")
    if cfg.precision not in PRECISIONS:
        raise UserError(f"precision={cfg.precision} must be one of {', '.join(PRECISIONS)}")


def build_task(cfg: DictConfig) -> tuple[Domain, DiffusionModel, Reward, Reward | None]:
    """Domain, model, reward and evaluation reward, checked to fit together; bad values and missing files
    become one-line UserErrors."""
    reward_cfg = OmegaConf.to_container(cfg.reward, resolve=True)
    evaluation_cfg = reward_cfg.pop("evaluation", None)
    domain = instantiate_part(cfg.domain, "domain")
    model = instantiate_part(cfg.model, "model")
    reward = instantiate_part(reward_cfg, "reward")
    if domain.name not in reward.domains:
        raise UserError(f"reward={choices(cfg).get('reward', '?')} scores {'/'.join(reward.domains)} samples, "
                        f"not domain={domain.name} (`svdd run --help` lists the rewards)")
    domain.check_model(model)
    evaluation = instantiate_part(evaluation_cfg, "reward.evaluation") if evaluation_cfg else None
    return domain, model, reward, evaluation


def build(cfg: DictConfig) -> Parts:
    """Every part of a run: the task (build_task) and the sampler."""
    return Parts(*build_task(cfg), instantiate_part(cfg.sampler, "sampler"))


def instantiate_part(node: Any, where: str) -> Any:
    """hydra's instantiate(node); a user mistake inside becomes a one-line UserError naming `where`."""
    try:
        return instantiate(node)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, (ValueError, TypeError)):
            raise UserError(f"{where}: {cause}") from None
        raise


def choices(cfg: DictConfig) -> dict[str, str]:
    """The config-group options this run was composed from (domain, model, reward, sampler)."""
    if not HydraConfig.initialized():
        return dict(cfg.get("choices", {}))
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra")}


def shard_batches(cfg: DictConfig) -> list[int]:
    """Global indices of this shard's batches; batch b is seeded by (seed, b), so shards merge exactly."""
    num_batches = -(-cfg.num_samples // cfg.batch_size)
    return [b for b in range(num_batches) if b % cfg.num_shards == cfg.shard]


def run(cfg: DictConfig) -> float | None:
    """Sample this shard's batches of cfg.num_samples outputs into the run folder; return the median reward."""
    check_settings(cfg)
    folder = Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else Path(cfg.output_dir)
    settings = OmegaConf.to_container(cfg, resolve=True)
    settings.pop("resume")
    out = RunFolder(folder, settings, cfg.resume)
    if out.finished:
        print(f"{folder} is already finished; nothing to do")
        return None
    parts = build(cfg)
    model = counted_model(parts.model, out.counters, cfg.max_batch, cfg.precision)
    reward = counted_reward(parts.reward, out.counters, cfg.invalid_reward)
    todo = [b for b in shard_batches(cfg) if b not in out.done]
    status = "finished"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress:
        batches = progress.add_task("batches", total=len(shard_batches(cfg)), completed=len(out.done))
        steps = progress.add_task("steps", total=len(parts.model.timesteps()) - 1)
        try:
            for b in todo:
                progress.reset(steps)

                def trace(record: dict[str, Any], b: int = b) -> None:
                    out.trace({"batch": b, **record})
                    progress.advance(steps)

                rows = sample_batch(cfg, parts, model, reward, b, out.counters, trace, folder)
                out.add_batch(b, rows)
                parts.domain.write_native(folder, out.rows)
                progress.advance(batches)
        except KeyboardInterrupt:
            status = "interrupted"
    reference = reference_rewards(parts, cfg) if status == "finished" and cfg.shard == 0 else []
    if status == "finished":
        out.save_state(reference)
    oracle = parts.reward.stats() if isinstance(parts.reward, OracleStats) else {}
    summary = summarise(settings, choices(cfg), parts.domain, out.rows, reference, out.counters,
                        device_name(parts.model.device), status, oracle)
    out.write_summary(summary)
    out.close()
    make_plots(folder, out.rows, reference, choices(cfg).get("sampler", "run"))
    print(f"{status}: {len(out.rows)} samples in {folder}; reward median {summary['reward']['median']}, "
          f"evaluation median {summary['evaluation_reward']['median']}; NFE/sample {summary['nfe_per_sample']:.0f}")
    if status == "interrupted":
        raise KeyboardInterrupt
    return summary["reward"]["median"]


def sample_batch(cfg: DictConfig, parts: Parts, model: CountedModel, reward: CountedReward, b: int,
                 counters: Counters, trace: Any, folder: Path) -> list[dict[str, Any]]:
    """Draw global batch b and return its samples.csv rows: the domain's columns, rewards, log-likelihood."""
    first = b * cfg.batch_size
    n = min(cfg.batch_size, cfg.num_samples - first)
    generator = torch.Generator(parts.model.device).manual_seed(cfg.seed * 1_000_003 + b)
    counters.start()
    x = parts.sampler.sample(model, reward, n, generator, trace)
    counters.stop()
    samples = parts.model.decode(x)
    ids = [f"s{first + i:06d}" for i in range(n)]
    score = counted_reward(parts.reward, Counters(), cfg.invalid_reward)  # final scores: not sampling compute
    columns = {"id": ids, **parts.domain.columns(ids, samples, folder),
               "reward": score(samples).tolist(),
               "evaluation_reward": parts.evaluation(samples).tolist() if parts.evaluation else [None] * n,
               "log_likelihood": parts.model.log_likelihood(x, generator, draws=cfg.likelihood_draws).tolist()}
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


def reference_rewards(parts: Parts, cfg: DictConfig) -> list[float]:
    """Rewards of `reference_samples` ancestral samples: the pre-trained model's distribution."""
    if cfg.reference_samples < 1:
        return []
    generator = torch.Generator(parts.model.device).manual_seed(cfg.seed + 7_777_777)
    model = counted_model(parts.model, Counters(), cfg.max_batch, cfg.precision)
    x = Ancestral().sample(model, parts.reward, cfg.reference_samples, generator, lambda record: None)
    return counted_reward(parts.reward, Counters(), cfg.invalid_reward)(parts.model.decode(x)).tolist()
