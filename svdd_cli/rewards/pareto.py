"""Several objectives in one run, a Pareto set: each term is any reward of the domain, composed as its own
`reward=<name>` option (as in composite), with a direction and a range (docs/pareto.md; the selection it drives:
docs/algorithms.md item 19).

    svdd run domain=molecule reward=pareto                     # QED and SA ((10 - SA) / 9), both maximised
    svdd run domain=protein reward=pareto '~reward.terms' '+reward.terms={gravy: min, instability: max}' \
        '+reward.ranges.gravy=[-2,2]' '+reward.ranges.instability=[-80,0]'

A sample's value is the vector of its terms, oriented (a `min` term negated) and scaled to [0, 1] over its range
(svdd_cli.fronts). Every sampler needs one number per row: row j of a call is scored by the augmented Chebyshev
value under the weights of the output it is a candidate for (core.output_rewards: svdd's M candidates of output
i, best_of_n's N, the SMC family's particles, all share output i's weights; other samplers score row j for output
j), and the outputs' weights are spread over the simplex, so the batch spreads along the front while each
output's choice among its candidates is never dominated by another of them. The run's ledger keeps each sample's
vector (never a number that depends on the batch), so repeats are free and cached values are exact.
Cost: one call of every term per distinct sample, and per real sample drawn beside the front (`real_samples`: the
first `reference_samples` of the domain's shipped real set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from svdd_cli.core import SetLevel
from svdd_cli.errors import UserError
from svdd_cli.fronts import Objectives, chebyshev, simplex_weights
from svdd_cli.rewards.composite import build_term, shared_domains, term_stats


class Pareto:
    """terms: name -> max | min; ranges: name -> [lo, hi] of the term's values that matters (scales it for the
    scalarisation and the hypervolume; a range for a term not in `terms` is ignored)."""

    def __init__(self, terms: Mapping[str, str], ranges: Mapping[str, Sequence[float]],
                 options: Mapping[str, Mapping[str, Any]] | None = None, device: str = "auto",
                 checkpoints: str | None = None, domain: str | None = None,
                 real_samples: str | Path | None = None) -> None:
        """real_samples: a file of real held-out samples, one a line (scripts/real_samples.py), that a run scores
        by the terms for pareto.png and summary.json; a missing file: none."""
        self.objectives = Objectives.from_config(terms, ranges)
        path = Path(real_samples) if real_samples else None
        self.real_samples = path.read_text().splitlines() if path is not None and path.is_file() else []
        options = options or {}
        self.terms = {name: build_term(name, options.get(name, {}), device, checkpoints, domain) for name in terms}
        set_level = [name for name, term in self.terms.items() if isinstance(term, SetLevel)]
        if set_level:
            raise UserError(f"reward.terms.{set_level[0]} scores a sample against the rest of its batch: not an "
                            f"objective; steer by it as reward.natural.{set_level[0]}=<weight>")
        domains = shared_domains(self.terms)
        if domains is not None:  # no `domains` when no term is restricted
            self.domains = domains

    def objective_values(self, samples: list[Any]) -> Tensor:
        """(B, K) oriented term values: one call of every term."""
        raw = torch.stack([torch.as_tensor(term(samples), dtype=torch.float32).cpu() for term in self.terms.values()],
                          dim=1)
        return self.objectives.orient(raw)

    def scalarise(self, values: Tensor, outputs: Tensor) -> Tensor:
        """(B,) augmented Chebyshev values of oriented values (B, K) under the weights of `outputs` (B,)."""
        g = self.objectives.normalise(values)
        return chebyshev(g, simplex_weights(outputs, len(self.terms)))

    def scores_for(self, samples: list[Any], outputs: Tensor) -> Tensor:
        """(B,) Chebyshev values of samples that are candidates for `outputs` (B,)."""
        return self.scalarise(self.objective_values(samples), outputs)

    def __call__(self, samples: list[Any]) -> Tensor:
        """(B,): row j scored for output j."""
        return self.scores_for(samples, torch.arange(len(samples)))

    def stats(self) -> dict[str, float]:
        """Every term's oracle stats, prefixed by its name."""
        return term_stats(self.terms)
