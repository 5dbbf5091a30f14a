"""Weighted sum of other rewards, each composed as its own `reward=<name>` option: works in every domain.

    svdd run domain=molecule reward=composite reward.terms.qed=1.0 reward.terms.sa=0.5
    svdd run domain=molecule reward=composite 'reward.terms={qed: 1, docking: 0.1}' reward.options.docking.target=DRD2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from svdd_cli.assets import asset_root
from svdd_cli.compose import compose_config, instantiate_part, reward_nodes
from svdd_cli.core import DomainRestricted, OracleStats, Reward, SetLevel
from svdd_cli.errors import UserError


def build_term(name: str, options: Mapping[str, Any], device: str, checkpoints: str | None,
               domain: str | None = None) -> Reward:
    """The reward of the `reward=<name>` option (composed as `svdd run domain=<domain> reward=<name>` would: a
    term reads its domain's files, e.g. kmer_natural's spectra) with `options` merged in and the run's device."""
    from hydra.errors import MissingConfigException

    try:
        paths = [f"paths.checkpoints={checkpoints}"] if checkpoints else []  # the run's, not the shipped default
        cfg = compose_config([f"reward={name}", f"device={device}", *paths, *([f"domain={domain}"] if domain else [])])
    except MissingConfigException:  # Hydra's multi-line report: one line with the options instead
        available = sorted(p.stem for p in (asset_root() / "configs" / "reward").glob("*.yaml"))
        raise UserError(f"reward.terms: {name} is not a reward; available: "
                        + ", ".join(a for a in available if a not in ("composite", "pareto"))) from None
    node, _, _ = reward_nodes(OmegaConf.merge(cfg.reward, options))  # its evaluation / natural: never summed here
    return instantiate_part(node, f"reward.terms.{name}")


def shared_domains(terms: Mapping[str, Reward]) -> tuple[str, ...] | None:
    """The domains every domain-restricted term scores (None when no term is restricted); a UserError when they
    share none."""
    restricted = [t.domains for t in terms.values() if isinstance(t, DomainRestricted)]
    if not restricted:
        return None
    domains = tuple(d for d in restricted[0] if all(d in r for r in restricted))
    if not domains:
        raise UserError(f"reward.terms {', '.join(terms)} share no domain; combine rewards of one domain")
    return domains


def term_stats(terms: Mapping[str, Reward]) -> dict[str, float]:
    """Every term's oracle stats, prefixed by its name."""
    return {f"{name}.{k}": v for name, term in terms.items() if isinstance(term, OracleStats)
            for k, v in term.stats().items()}


class Composite:
    """sum_k weight_k * reward_k(samples); scores the domains every term scores."""

    def __init__(self, terms: Mapping[str, float], options: Mapping[str, Mapping[str, Any]] | None = None,
                 device: str = "auto", checkpoints: str | None = None, domain: str | None = None) -> None:
        if not terms:
            raise UserError("reward.terms is empty: give weights such as reward.terms.qed=1.0")
        options = options or {}
        self.weights = {name: float(weight) for name, weight in terms.items()}
        self.terms = {name: build_term(name, options.get(name, {}), device, checkpoints, domain)
                      for name in self.weights}
        domains = shared_domains(self.terms)
        if domains is not None:  # no `domains` when no term is restricted
            self.domains = domains
        if any(isinstance(term, SetLevel) for term in self.terms.values()):
            self.set_level = True  # a sum with a set-level term: reward.natural only (core.SetLevel)

    def __call__(self, samples: list[Any]) -> Tensor:
        total = torch.zeros(len(samples))
        for name, term in self.terms.items():
            total += self.weights[name] * term(samples)
        return total

    def stats(self) -> dict[str, float]:
        """Every term's oracle stats, prefixed by its name."""
        return term_stats(self.terms)
