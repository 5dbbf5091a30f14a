"""`svdd run`: build domain, model, reward and sampler from the config, sample in batches, write outputs."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from svdd_cli import plots
from svdd_cli.core import CountedModel, CountedReward, Counters, DiffusionModel, Domain, Reward, Sampler
from svdd_cli.errors import UserError
from svdd_cli.outputs import RunFolder, describe
from svdd_cli.samplers.ancestral import Ancestral


@dataclass
class Parts:
    domain: Domain
    model: DiffusionModel
    reward: Reward
    evaluation: Reward | None
    sampler: Sampler


def build(cfg: DictConfig) -> Parts:
    """Instantiate the four parts; bad values and missing files become one-line UserErrors."""
    for key in ("num_samples", "batch_size", "max_batch"):
        if cfg[key] < 1:
            raise UserError(f"{key}={cfg[key]} must be >= 1")
    reward_cfg = OmegaConf.to_container(cfg.reward, resolve=True)
    evaluation_cfg = reward_cfg.pop("evaluation", None)
    domain = _instantiate(cfg.domain, "domain")
    model = _instantiate(cfg.model, "model")
    reward = _instantiate(reward_cfg, "reward")
    choice = HydraConfig.get().runtime.choices.get("reward", "reward") if HydraConfig.initialized() else "reward"
    if domain.name not in reward.domains:
        raise UserError(f"reward={choice} scores {'/'.join(reward.domains)} samples, not domain={domain.name} "
                        "(pick a reward of this domain: `svdd run --help` lists them)")
    domain.check_model(model)
    evaluation = _instantiate(evaluation_cfg, "reward.evaluation") if evaluation_cfg else None
    return Parts(domain, model, reward, evaluation, _instantiate(cfg.sampler, "sampler"))


def _instantiate(node: Any, where: str) -> Any:
    try:
        return instantiate(node)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, (ValueError, TypeError)):
            raise UserError(f"{where}: {cause}") from None
        raise


def run(cfg: DictConfig) -> float:
    """Sample cfg.num_samples outputs, write the run folder, return the median reward."""
    parts = build(cfg)
    folder = Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else Path(cfg.output_dir)
    out = RunFolder(folder)
    counters = Counters()
    model = CountedModel(parts.model, counters, cfg.max_batch)
    reward = CountedReward(parts.reward, counters)
    device = parts.model.device
    num_batches = -(-cfg.num_samples // cfg.batch_size)
    rewards: list[float] = []
    status = "finished"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress:
        batches = progress.add_task("batches", total=num_batches)
        steps = progress.add_task("steps", total=None)
        try:
            for b in range(num_batches):
                n = min(cfg.batch_size, cfg.num_samples - b * cfg.batch_size)
                generator = torch.Generator(device).manual_seed(cfg.seed * 1_000_003 + b)
                progress.reset(steps, total=len(parts.model.timesteps()) - 1)

                def trace(record: dict[str, Any], b: int = b) -> None:
                    out.trace({"batch": b, **record})
                    progress.advance(steps)

                counters.start()
                x = parts.sampler.sample(model, reward, n, generator, trace)
                counters.stop()
                rows = score_batch(parts, x, generator, b * cfg.batch_size, cfg.likelihood_draws, folder)
                out.add_rows(rows)
                rewards.extend(r["reward"] for r in rows)
                parts.domain.write_native(folder, out.rows)
                progress.advance(batches)
        except KeyboardInterrupt:
            status = "interrupted"
            counters.stop()
    reference = [] if status != "finished" else reference_rewards(parts, cfg)
    summary = summarise(cfg, parts, out.rows, reference, counters, device, status)
    out.write_summary(summary)
    out.close()
    make_plots(folder, rewards, reference, HydraConfig.get().runtime.choices.get("sampler", "run")
               if HydraConfig.initialized() else "run")
    print(f"{status}: {len(out.rows)} samples in {folder}; reward median {summary['reward']['median']}, "
          f"evaluation median {summary['evaluation_reward']['median']}; NFE/sample {summary['nfe_per_sample']:.0f}")
    if status == "interrupted":
        raise KeyboardInterrupt
    return summary["reward"]["median"]


def score_batch(parts: Parts, x: torch.Tensor, generator: torch.Generator, first_id: int, draws: int,
                folder: Path) -> list[dict[str, Any]]:
    """One samples.csv row per finished sample: the domain's columns, rewards, log-likelihood."""
    samples = parts.model.decode(x)
    ids = [f"s{first_id + i:05d}" for i in range(len(samples))]
    columns = {"id": ids, **parts.domain.columns(ids, samples, folder),
               "reward": parts.reward(samples).tolist(),
               "evaluation_reward": parts.evaluation(samples).tolist() if parts.evaluation else [None] * len(ids),
               "log_likelihood": parts.model.log_likelihood(x, generator, draws=draws).tolist()}
    return [{k: v[i] for k, v in columns.items()} for i in range(len(ids))]


def reference_rewards(parts: Parts, cfg: DictConfig) -> list[float]:
    """Rewards of `reference_samples` ancestral samples: the pre-trained model's distribution."""
    if cfg.reference_samples < 1:
        return []
    generator = torch.Generator(parts.model.device).manual_seed(cfg.seed + 7_777_777)
    model = CountedModel(parts.model, Counters(), cfg.max_batch)
    x = Ancestral().sample(model, parts.reward, cfg.reference_samples, generator, lambda record: None)
    return parts.reward(parts.model.decode(x)).tolist()


def summarise(cfg: DictConfig, parts: Parts, rows: list[dict[str, Any]], reference: list[float],
              counters: Counters, device: torch.device, status: str) -> dict[str, Any]:
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    loglik = [r["log_likelihood"] for r in rows]
    evaluation = [r["evaluation_reward"] for r in rows if r["evaluation_reward"] is not None]
    return {
        "status": status,
        "choices": {k: v for k, v in choices.items() if not k.startswith("hydra")},
        "seed": cfg.seed, "num_samples": len(rows),
        "sampler": OmegaConf.to_container(cfg.sampler),
        "reward": describe([r["reward"] for r in rows]),
        "evaluation_reward": describe(evaluation),
        "reference_reward": describe(reference),
        "naturalness": {"log_likelihood": describe(loglik), **parts.domain.metrics(rows)},
        "oracle": parts.reward.stats() if hasattr(parts.reward, "stats") else {},
        "nfe": counters.nfe, "nfe_per_sample": counters.nfe / max(len(rows), 1),
        "reward_calls": counters.reward_calls, "wall_s": counters.wall_s,
        "device": f"{device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
                                      else f" ({platform.processor() or platform.machine()})"),
        "torch": torch.__version__,
    }


def make_plots(folder: Path, rewards: list[float], reference: list[float], label: str) -> None:
    import json

    if rewards:
        plots.reward_histogram(rewards, reference, label, folder / "reward_hist.png")
    trace_path = folder / "trace.jsonl"
    records = [json.loads(line) for line in trace_path.read_text().splitlines()] if trace_path.exists() else []
    plots.reward_along_steps(records, folder / "reward_steps.png")
