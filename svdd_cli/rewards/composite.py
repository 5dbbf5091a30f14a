"""Weighted sum of other rewards, each built from its own configs/reward/<name>.yaml: works in every domain.

    svdd run domain=molecule reward=composite reward.terms.qed=1.0 reward.terms.sa=0.5
    svdd run domain=molecule reward=composite 'reward.terms={qed: 1, docking: 0.1}' reward.options.docking.target=DRD2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError
from torch import Tensor

from svdd_cli.assets import asset_root
from svdd_cli.core import OracleStats, Reward
from svdd_cli.errors import UserError


def build_term(name: str, options: Mapping[str, Any], context: Mapping[str, Any]) -> Reward:
    """The reward of configs/reward/<name>.yaml with `options` merged in; ${...} resolved against `context`
    (the top-level keys a reward config may refer to: paths.checkpoints, device)."""
    folder = asset_root() / "configs" / "reward"
    available = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "composite")
    if name not in available:
        raise UserError(f"reward.terms: {name} is not a reward; available: {', '.join(available)}")
    term = OmegaConf.merge(OmegaConf.load(folder / f"{name}.yaml"), options)
    term.pop("evaluation", None)  # a held-out oracle is reported next to a run's reward, never summed
    try:
        node = OmegaConf.to_container(OmegaConf.create({**context, "term": term}).term, resolve=True)
    except InterpolationResolutionError as err:
        raise UserError(f"reward.terms.{name}: {err.msg}") from None
    try:
        return instantiate(node)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise UserError(f"reward.terms.{name}: {err.__cause__ or err}") from None


class Composite:
    """sum_k weight_k * reward_k(samples); scores the domains every term scores."""

    def __init__(self, terms: Mapping[str, float], options: Mapping[str, Mapping[str, Any]] | None = None,
                 checkpoints: str | None = None, device: str = "auto") -> None:
        if not terms:
            raise UserError("reward.terms is empty: give weights such as reward.terms.qed=1.0")
        options = options or {}
        context = {"paths": {"checkpoints": checkpoints}, "device": device}  # what the terms' ${...} refer to
        self.weights = {name: float(weight) for name, weight in terms.items()}
        self.terms = {name: build_term(name, options.get(name, {}), context) for name in self.weights}
        domain_sets = [set(term.domains) for term in self.terms.values()]
        self.domains = tuple(d for d in next(iter(self.terms.values())).domains if all(d in s for s in domain_sets))
        if not self.domains:
            raise UserError(f"reward.terms {', '.join(self.terms)} share no domain; combine rewards of one domain")

    def __call__(self, samples: list[Any]) -> Tensor:
        total = torch.zeros(len(samples))
        for name, term in self.terms.items():
            total += self.weights[name] * term(samples)
        return total

    def stats(self) -> dict[str, float]:
        """Every term's oracle stats, prefixed by its name."""
        return {f"{name}.{k}": v for name, term in self.terms.items() if isinstance(term, OracleStats)
                for k, v in term.stats().items()}
