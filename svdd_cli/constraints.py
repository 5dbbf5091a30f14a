"""Hard constraints on designs (docs/constraints.md): rules every output must meet, whatever the sampler.

A constraint maps decoded samples to a (B,) bool tensor, True where the sample meets it. A run's `Constraints`
enforce them twice: the reward every sampler sees gives a sample that breaks one the `invalid_reward` penalty
without calling the oracle (core.CountedReward's `feasible`), and after a batch is drawn the outputs that still
break one are drawn again (`Constraints.draw`, up to `constraint_tries` times); what is left is kept and counted.
The checks themselves are science functions (science/sequence.py, science/chem.py, science/moses.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from svdd_cli.compose import instantiate_part
from svdd_cli.core import DiffusionModel, DomainRestricted, Metered, Reward, Sampler, Trace
from svdd_cli.errors import UserError
from svdd_cli.science.sequence import gc_range, longest_homopolymer, reverse_complement

log = logging.getLogger("svdd")


class Constraint(Protocol):
    """A hard rule on decoded samples; `name` is what summaries and samples.csv call it."""

    name: str

    def __call__(self, samples: list[Any]) -> Tensor:
        """Decoded batch -> (B,) bool, True where the sample meets the rule."""


def _rows(samples: list[Any], check: Any) -> Tensor:
    return torch.tensor([bool(check(s)) for s in samples], dtype=torch.bool)


class GCWindow:
    """GC fraction within [low, high]: of the whole sequence, or with `window` of every window of that length."""

    name = "gc"
    domains = ("dna", "rna")

    def __init__(self, low: float = 0.35, high: float = 0.65, window: int | None = None) -> None:
        if not 0 <= low <= high <= 1:
            raise ValueError(f"low={low}, high={high}: a GC window needs 0 <= low <= high <= 1")
        if window is not None and (isinstance(window, bool) or window < 1):
            raise ValueError(f"window={window} must be a length >= 1 (null = the whole sequence)")
        self.low, self.high, self.window = low, high, window

    def __call__(self, samples: list[str]) -> Tensor:
        return _rows(samples, self.holds)

    def holds(self, sample: str) -> bool:
        lowest, highest = gc_range(sample, self.window)
        return self.low <= lowest and highest <= self.high


class MaxHomopolymer:
    """No run of one repeated letter longer than `length` (6: AAAAAA passes, AAAAAAA does not)."""

    name = "homopolymer"
    domains = ("dna", "rna", "protein")

    def __init__(self, length: int = 6) -> None:
        if isinstance(length, bool) or length < 1:
            raise ValueError(f"length={length} must be an integer >= 1 (the longest run allowed)")
        self.length = length

    def __call__(self, samples: list[str]) -> Tensor:
        return _rows(samples, lambda s: longest_homopolymer(s) <= self.length)


class ForbiddenSites:
    """None of `sites` (e.g. restriction enzymes' recognition sequences) occurs; with `both_strands` (DNA, RNA) nor
    its reverse complement, so a site on the other strand counts too."""

    name = "sites"
    domains = ("dna", "rna", "protein")

    def __init__(self, sites: Sequence[str] = (), both_strands: bool = True) -> None:
        bad = [s for s in sites if not (isinstance(s, str) and s.isalpha())]
        if bad:
            raise ValueError(f"sites: {bad[0]!r} is not a sequence of letters (e.g. sites=[GAATTC,GGATCC])")
        forward = [s.upper() for s in sites]
        self.sites = sorted(set(forward + [reverse_complement(s) for s in forward] * both_strands))
        self.both_strands = both_strands

    def __call__(self, samples: list[str]) -> Tensor:
        return _rows(samples, lambda s: not any(site in s for site in self.sites))


@functools.lru_cache(maxsize=200_000)
def _passes_moses(smiles: str, filters: str) -> bool:
    from svdd_cli.science.chem import mol_from_smiles
    from svdd_cli.science.moses import passes_filters

    try:
        return passes_filters(mol_from_smiles(smiles), Path(filters))
    except ValueError:  # not a molecule
        return False


@functools.lru_cache(maxsize=200_000)
def _largest_ring(smiles: str) -> int | None:
    from svdd_cli.science.chem import largest_ring, mol_from_smiles

    try:
        return largest_ring(mol_from_smiles(smiles))
    except ValueError:
        return None


class MosesFilters:
    """MOSES's filters pass (no MCF / PAINS match, only C N S O F Cl Br H, no charge, no ring of >= 8 atoms); a
    SMILES RDKit cannot parse breaks it."""

    name = "moses_filters"
    domains = ("molecule",)

    def __init__(self, filters: str | Path) -> None:
        if not Path(filters).is_file():
            raise ValueError(f"filters: {filters} not found (a SMARTS file, one pattern a line: "
                             "checkpoints/molecule_moses/moses_filters.smarts ships MOSES's)")
        self.filters = str(filters)

    def __call__(self, samples: list[str]) -> Tensor:
        return _rows(samples, lambda s: _passes_moses(s, self.filters))


class MaxRingSize:
    """No ring of more than `size` atoms (6: a 7-ring breaks it); a SMILES RDKit cannot parse breaks it."""

    name = "ring_size"
    domains = ("molecule",)

    def __init__(self, size: int = 6) -> None:
        if isinstance(size, bool) or size < 3:
            raise ValueError(f"size={size} must be an integer >= 3 (the largest ring allowed, in atoms)")
        self.size = size

    def __call__(self, samples: list[str]) -> Tensor:
        return _rows(samples, self.holds)

    def holds(self, sample: str) -> bool:
        ring = _largest_ring(sample)
        return ring is not None and ring <= self.size


class Constraints:
    """A run's named constraints (none: every sample is feasible and nothing is redrawn)."""

    def __init__(self, constraints: Mapping[str, Constraint] | Sequence[Constraint] = ()) -> None:
        self.checks: dict[str, Constraint] = (dict(constraints) if isinstance(constraints, Mapping)
                                              else {c.name: c for c in constraints})

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> Constraints:
        """The `constraints` config node: name -> a `_target_` node (null: that one is off)."""
        checks = {}
        for name, value in (node or {}).items():
            if value is None:
                continue
            if not (isinstance(value, Mapping) and "_target_" in value):
                raise UserError(f"constraints.{name}={value!r} is not a constraint (a node with a _target_); pick a "
                                "preset, e.g. constraints=dna_synthesis, or see docs/constraints.md")
            checks[name] = instantiate_part(value, f"constraints.{name}")
        return cls(checks)

    def __bool__(self) -> bool:
        return bool(self.checks)

    def check_domain(self, domain: str) -> None:
        """UserError naming the first constraint that does not check this domain's samples."""
        for name, check in self.checks.items():
            if isinstance(check, DomainRestricted) and domain not in check.domains:
                raise UserError(f"constraints.{name} checks {'/'.join(check.domains)} samples, not domain={domain} "
                                "(constraints=dna_synthesis fits dna, constraints=molecule_filters molecules)")

    def broken(self, samples: list[Any]) -> Tensor:
        """(B, C) bool: sample b breaks constraint c (in the order of `checks`)."""
        columns = []
        for name, check in self.checks.items():
            ok = torch.as_tensor(check(samples), dtype=torch.bool).cpu()
            if ok.shape != (len(samples),):
                raise UserError(f"constraints.{name} returned shape {tuple(ok.shape)} for {len(samples)} samples; "
                                f"a constraint returns one bool per sample")
            columns.append(~ok)
        return torch.stack(columns, 1) if columns else torch.zeros(len(samples), 0, dtype=torch.bool)

    def feasible(self, samples: list[Any]) -> Tensor:
        """(B,) bool: the sample meets every constraint."""
        return ~self.broken(samples).any(1)

    def draw(self, sampler: Sampler, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
             trace: Trace, tries: int) -> tuple[Tensor, Tensor]:
        """n samples from `sampler`, the outputs that break a constraint drawn again by the sampler (their rows only,
        up to `tries` times, while the oracle budget lasts). Returns (n, ...) samples and (n,) int redraws: how many
        times each row was drawn again. A redraw costs what a draw of that many rows costs (counted NFE)."""
        x = sampler.sample(model, reward, n, generator, trace)
        redraws = torch.zeros(n, dtype=torch.long)
        if not self:
            return x, redraws
        for k in range(1, tries + 1):
            bad = (~self.feasible(model.decode(x))).nonzero().flatten()
            if len(bad) == 0 or (isinstance(reward, Metered) and reward.calls_left() == 0):
                break
            log.info("redraw %d/%d: %d of %d outputs break a constraint", k, tries, len(bad), n)
            x[bad.to(x.device)] = sampler.sample(model, reward, len(bad), generator,
                                                 lambda record, k=k: trace({"redraw": k, **record}))
            redraws[bad] += 1
        return x, redraws

    def columns(self, samples: list[Any], redraws: Tensor) -> dict[str, list[Any]]:
        """samples.csv's columns: feasible, violated (the names of the constraints broken, space-separated; '' when
        none) and redraw (times the row was drawn again); {} without constraints."""
        if not self:
            return {}
        broken = self.broken(samples)
        names = list(self.checks)
        return {"feasible": (~broken.any(1)).tolist(),
                "violated": [" ".join(n for n, b in zip(names, row) if b) for row in broken.tolist()],
                "redraw": redraws.tolist()}

    def record(self) -> dict[str, dict[str, Any]]:
        """name -> the constraint's class and settings (what summary.json and a resume compare)."""
        return {name: {"_target_": f"{type(c).__module__}.{type(c).__qualname__}",
                       **{k: v for k, v in vars(c).items() if isinstance(v, (int, float, str, bool, list, type(None)))}}
                for name, c in self.checks.items()}


def summary(names: list[str], rows: list[dict[str, Any]], tries: int | None) -> dict[str, Any]:
    """summary.json's `constraints`: the names, how many outputs break each, the infeasible outputs (kept, flagged
    `feasible: false` in samples.csv) and the redraws it took."""
    return {"names": names,
            "violations": {n: sum(n in r.get("violated", "").split() for r in rows) for n in names},
            "infeasible_outputs": sum(not r.get("feasible", True) for r in rows),
            "redraws": sum(r.get("redraw", 0) for r in rows), "constraint_tries": tries}


def warning(section: dict[str, Any], outputs: int) -> list[str]:
    """The warning line of a run whose outputs still break a constraint (none when every output is feasible)."""
    bad = section["infeasible_outputs"]
    if not bad:
        return []
    which = ", ".join(f"{n} {c}" for n, c in section["violations"].items() if c)
    return [f"{bad} of {outputs} outputs break a constraint ({which}) after constraint_tries="
            f"{section['constraint_tries']} redraws: kept with feasible=false in samples.csv and no reward; raise "
            "constraint_tries or loosen the constraint"]
