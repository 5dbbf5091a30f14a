"""`svdd train-value`: fit a value network v(x_t, t) by MSE on rollouts of the pre-trained model (SVDD-MC).

Rollouts are split into training and held-out trajectories; the held-out ones give the per-step Pearson
correlation of v(x_t, t) (and of SVDD-PM's r(x0-hat(x_t)), for comparison) with the final reward r(x_0).
Writes config.json + model.safetensors + metrics.json + MODEL_CARD.md into value.out (or the run folder).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor

from svdd_cli.checkpoint import save_folder
from svdd_cli.core import Counters, DiffusionModel, MaskedKernel, Reward, counted_model, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.run import build_task
from svdd_cli.value.card import write_card
from svdd_cli.value.data import Rollouts, draw_rollouts
from svdd_cli.value.network import ValueNetwork


@dataclass(frozen=True)
class ValueSettings:
    """The `value:` block of configs/train_value.yaml."""

    rollouts: int = 2048  # training trajectories
    heldout: int = 256  # held-out trajectories (per-step correlation table)
    batch_size: int = 64  # trajectories drawn together
    completions: int = 1  # K > 1: soft targets over K completions
    completion_every: int = 5  # soft targets at every n-th recorded time only
    alpha: float = 1.0  # the soft target's temperature
    epochs: int = 2
    train_batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    network: dict[str, int] = field(default_factory=dict)  # ValueNetwork's channels, layers, kernel_size, pool
    out: str | None = None  # checkpoint folder; None = the run folder

    def __post_init__(self) -> None:
        for key, least in (("rollouts", 2), ("heldout", 2), ("batch_size", 1), ("completions", 1),
                           ("completion_every", 1), ("epochs", 1), ("train_batch", 1)):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise UserError(f"value.{key}={value!r} must be an integer >= {least}")
        for key in ("alpha", "lr"):
            if not getattr(self, key) > 0:
                raise UserError(f"value.{key}={getattr(self, key)!r} must be > 0")


def train_value(cfg: DictConfig, command: str, run_folder: Path = Path("."),
                choices: dict[str, str] | None = None) -> dict[str, Any]:
    """Draw rollouts, fit, evaluate and write the checkpoint folder (value.out, or the run folder); returns
    metrics.json's content. `choices`: the config-group options (domain, reward) recorded in the card."""
    settings = ValueSettings(**OmegaConf.to_container(cfg.value, resolve=True))
    folder = Path(settings.out) if settings.out else run_folder
    choices = choices or {}
    model, reward = build(cfg)
    counters = Counters()
    counted = counted_model(model, counters, cfg.max_batch)
    scored = counted_reward(reward, counters, cfg.invalid_reward)
    generator = torch.Generator(model.device).manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    net = ValueNetwork(model.vocab, model.length, **settings.network).to(model.device)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress:
        def draw(n: int, what: str, score_x0hat: bool) -> Rollouts:
            task = progress.add_task(f"{what} rollouts", total=n)
            return draw_rollouts(counted, scored, n, settings.batch_size, generator, settings.completions,
                                 settings.completion_every, settings.alpha, score_x0hat,
                                 lambda k: progress.advance(task, k))

        train, heldout = draw(settings.rollouts, "training", False), draw(settings.heldout, "held-out", True)
        rollout_s = time.perf_counter() - started
        task = progress.add_task("training", total=settings.epochs * math.ceil(len(pair_index(train)) /
                                                                             settings.train_batch))
        losses = fit(net, train, heldout, settings, lambda: progress.advance(task), lambda loss: progress.update(
            task, description=f"training (held-out MSE {loss:.3f})"))
    metrics = {
        "domain": choices.get("domain", cfg.domain.name), "reward": choices.get("reward", "?"),
        "command": command, "settings": asdict(settings), "seed": cfg.seed,
        "pairs": {"train": int(train.labelled.sum()) * settings.rollouts,
                  "heldout": int(heldout.labelled.sum()) * settings.heldout},
        "nfe": counters.nfe, "reward_calls": counters.reward_calls, "invalid_rewards": counters.invalid_rewards,
        "rollout_s": round(rollout_s, 1), "train_s": round(time.perf_counter() - started - rollout_s, 1),
        "heldout_mse": losses, "per_step": per_step_correlations(net, heldout),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    config = {"vocab": model.vocab, "length": model.length, "network": net.hparams,
              "domain": metrics["domain"], "reward": metrics["reward"], "model": Path(cfg.model.get("path", "?")).name,
              "num_steps": len(model.timesteps()) - 1,
              "targets": "soft" if settings.completions > 1 else "reward",
              "alpha": settings.alpha if settings.completions > 1 else None, "completions": settings.completions}
    save_folder(folder, config, net)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(folder, config, metrics)
    print(f"value network written to {folder}; held-out correlation with r(x_0) at the last recorded step "
          f"{metrics['per_step'][-1]['value_pearson']:.3f}, rollouts {metrics['rollout_s']:.0f} s, "
          f"training {metrics['train_s']:.0f} s")
    return metrics


def build(cfg: DictConfig) -> tuple[DiffusionModel, Reward]:
    """The domain's model and the reward, checked as `svdd run` checks them; only token models have value nets."""
    domain, model, reward, _ = build_task(cfg)
    if not isinstance(model, MaskedKernel):
        raise UserError(f"domain={domain.name}: value networks are for masked (token) models only")
    if len(model.timesteps()) < 3:
        raise UserError("model.num_steps must be >= 2: the data are the states between x_T and x_0")
    return model, reward


def fit(net: ValueNetwork, train: Rollouts, heldout: Rollouts, settings: ValueSettings,
        on_batch: Callable[[], None] = lambda: None, on_epoch: Callable[[float], None] = lambda loss: None,
        ) -> list[float]:
    """AdamW on the MSE of standardised targets over all labelled (x_t, t) pairs; returns held-out MSE per epoch."""
    pairs = pair_index(train)
    y = train.target[pairs[:, 0], pairs[:, 1]]
    net.shift.fill_(y.mean())
    net.scale.fill_(y.std().clamp_min(1e-6))
    batches = math.ceil(len(pairs) / settings.train_batch)
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=settings.epochs * batches,
                                                   pct_start=0.05)
    losses = []
    for _ in range(settings.epochs):
        net.train()
        for rows in pairs[torch.randperm(len(pairs))].split(settings.train_batch):
            loss = mse(net, train, rows)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            on_batch()
        net.eval()
        with torch.no_grad():
            losses.append(round(float(torch.stack([mse(net, heldout, rows) for rows in
                                                   pair_index(heldout).split(1024)]).mean()), 4))
        on_epoch(losses[-1])
    return losses


def pair_index(data: Rollouts) -> Tensor:
    """(P, 2) indices (trajectory, time) of the labelled pairs."""
    steps = data.labelled.nonzero().squeeze(1)
    return torch.cartesian_prod(torch.arange(data.x.shape[0]), steps)


def mse(net: ValueNetwork, data: Rollouts, rows: Tensor) -> Tensor:
    """Mean squared error of v on the pairs `rows` (P, 2), in units of the targets' std."""
    device = net.shift.device
    x = net.one_hot(data.x[rows[:, 0], rows[:, 1]].long())
    v = net(x, data.t[rows[:, 1]].to(device))
    return (((v - data.target[rows[:, 0], rows[:, 1]].to(device)) / net.scale) ** 2).mean()


def per_step_correlations(net: ValueNetwork, data: Rollouts) -> list[dict[str, float]]:
    """Per recorded time: Pearson correlation of v(x_t, t) and of r(x0-hat(x_t)) with r(x_0) over trajectories."""
    table = []
    for j, t in enumerate(data.t.tolist()):
        v = net.value(data.x[:, j].long(), t).cpu()
        row = {"step": j + 1, "t": round(t, 4), "value_pearson": round(pearson(v, data.reward), 4)}
        if data.x0hat_reward is not None:
            row["x0hat_pearson"] = round(pearson(data.x0hat_reward[:, j], data.reward), 4)
        table.append(row)
    return table


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two (N,) tensors; 0 when either is constant."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denominator = (a.norm() * b.norm()).item()
    return (a @ b).item() / denominator if denominator > 0 else 0.0
