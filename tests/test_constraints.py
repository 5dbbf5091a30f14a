"""Hard constraints (svdd_cli/constraints.py, docs/constraints.md): each check on hand-made samples; with DNA
synthesis rules every output of every sampler meets them; infeasible samples never reach the oracle; redraws cost
counted NFE; the summary counts what is left; bad settings are one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

import svdd_cli
from svdd_cli.api import steer
from svdd_cli.constraints import (
    Constraints,
    ForbiddenSites,
    GCWindow,
    MaxHomopolymer,
    MaxRingSize,
    MosesFilters,
)
from svdd_cli.core import Counters, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.run import build
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.science.sequence import gc_content, longest_homopolymer
from tests.conftest import CONFIGS, log_uniform, table_model
from tests.test_cli import svdd

FILTERS = Path(__file__).resolve().parent.parent / "checkpoints" / "molecule_moses" / "moses_filters.smarts"
SAMPLERS = sorted(p.stem for p in (CONFIGS / "sampler").glob("*.yaml"))
SMALL = {"tree": ["sampler.budget=15"], "particle_gibbs": ["sampler.iterations=2"],  # a few steps' worth each
         "evolve": ["sampler.generations=2"], "refine": ["sampler.rounds=1"]}
STEPS = 5


def gc_of(fraction: float, length: int = 200) -> str:
    """A sequence of `length` with GC content `fraction` and no run longer than 2 (GC and AT pairs alternate)."""
    gc = round(fraction * length)
    return ("GC" * length)[:gc] + ("AT" * length)[:length - gc]


def test_gc_window_keeps_its_edges_and_checks_every_window():
    check = GCWindow(0.35, 0.65)
    samples = [gc_of(0.35), gc_of(0.65), gc_of(0.345), gc_of(0.655)]
    assert [gc_content(s) for s in samples] == [0.35, 0.65, 0.345, 0.655]
    assert check(samples).tolist() == [True, True, False, False]
    windows = GCWindow(0.35, 0.65, window=50)  # 0.5 overall, but its first 50 bp are all GC
    assert check([gc_of(0.5)]).tolist() == [True] and windows([gc_of(0.5)]).tolist() == [False]
    assert windows(["GCAT" * 50]).tolist() == [True]


def test_max_homopolymer_allows_a_run_of_exactly_its_length():
    check = MaxHomopolymer(6)
    six, seven = "ACGT" * 10 + "A" * 6 + "CGT" * 10, "ACGT" * 10 + "A" * 7 + "CGT" * 10
    assert (longest_homopolymer(six), longest_homopolymer(seven)) == (6, 7)
    assert check([six, seven, "G" * 7]).tolist() == [True, False, False]


def test_a_forbidden_site_counts_on_both_strands():
    check = ForbiddenSites(["GGTCTC"])  # BsaI; its reverse complement is GAGACC
    assert check(["AAGGTCTCAA", "AAGAGACCAA", "AAGGTCTTAA"]).tolist() == [False, False, True]
    assert ForbiddenSites(["GGTCTC"], both_strands=False)(["AAGAGACCAA"]).tolist() == [True]
    assert ForbiddenSites(["GGUCUC"])(["AAGGUCUCAA", "AAGAGACCAA", "AAGGTCTCAA"]).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="'GG TC' is not a sequence of letters"):
        ForbiddenSites(["GG TC"])


def test_molecule_constraints_reject_filtered_molecules_big_rings_and_non_molecules():
    drug, quinone, charged = "Cc1ccc(NC(=O)c2ccccc2)cc1", "O=C1C=CC(=O)C=C1", "C[N+](C)(C)Cc1ccccc1"
    assert MosesFilters(FILTERS)([drug, quinone, charged, "not a smiles"]).tolist() == [True, False, False, False]
    rings = MaxRingSize(6)
    assert rings(["C1CCCCC1", "C1CCCCCC1", "CCO", ""]).tolist() == [True, False, True, False]  # a 7-ring breaks it
    assert MaxRingSize(7)(["C1CCCCCC1"]).tolist() == [True]


def test_an_infeasible_sample_gets_the_penalty_without_an_oracle_call():
    asked = []

    def oracle(samples):
        asked.extend(samples)
        return [float(s.count("A")) for s in samples]

    counters = Counters()
    reward = counted_reward(oracle, counters, -1000.0, feasible=Constraints([MaxHomopolymer(3)]).feasible)
    assert reward(["AAAAT", "ACAT", "GGGG"]).tolist() == [-1000.0, 2.0, -1000.0]
    assert asked == ["ACAT"] and counters.reward_calls == 1 and counters.invalid_rewards == 0


@pytest.fixture(scope="module")
def dna():
    """The shipped DNA model at a few steps, and the enhancer oracle (cheap; differentiable for dps)."""
    return svdd_cli.load_model("dna", num_steps=STEPS, device="cpu"), svdd_cli.load_reward("enhancer", device="cpu")


@pytest.mark.parametrize("name", SAMPLERS)
def test_with_dna_synthesis_rules_every_output_of_every_sampler_meets_them(compose_config, dna, name):
    cfg = compose_config([f"sampler={name}", "constraints=dna_synthesis", "device=cpu", *SMALL.get(name, [])])
    constraints = Constraints.from_config(OmegaConf.to_container(cfg.constraints, resolve=True))
    assert list(constraints.checks) == ["gc", "homopolymer"]
    model, reward = dna
    result = steer(model, reward, instantiate(cfg.sampler), num_samples=4, seed=0, constraints=constraints,
                   reference_samples=0, likelihood_draws=1)
    gc = [gc_content(s) for s in result.samples]
    assert min(gc) >= 0.35 and max(gc) <= 0.65 and max(map(longest_homopolymer, result.samples)) <= 6
    assert result.summary["constraints"]["infeasible_outputs"] == 0
    assert all(r["feasible"] and r["violated"] == "" for r in result.rows)


MODEL = table_model(log_uniform(10, 4), "ACGT", num_steps=3)  # 10 uniform letters: GC = 0.5 in 25% of them
HALF_GC = GCWindow(0.5, 0.5)


def test_redraws_are_counted_and_cost_the_network_calls_of_a_draw():
    result = steer(MODEL, lambda s: [x.count("A") for x in s], Ancestral(), num_samples=16, seed=0,
                   constraints=[HALF_GC], constraint_tries=40)
    section = result.summary["constraints"]
    assert all(gc_content(s) == 0.5 for s in result.samples) and section["infeasible_outputs"] == 0
    assert section["redraws"] == sum(r["redraw"] for r in result.rows) > 16  # most rows took several draws
    assert result.summary["nfe"] == 3 * (16 + section["redraws"])


def test_what_is_still_infeasible_is_kept_flagged_unscored_and_counted(tmp_path):
    asked = []

    def oracle(samples):
        asked.extend(samples)
        return [float(s.count("A")) for s in samples]

    result = steer(MODEL, oracle, Ancestral(), num_samples=16, seed=0, constraints=[HALF_GC], constraint_tries=0,
                   out=tmp_path)
    bad = [r for r in result.rows if not r["feasible"]]
    section = result.summary["constraints"]
    assert len(result.rows) == 16 and 6 <= len(bad) < 16
    assert section == {"names": ["gc"], "violations": {"gc": len(bad)}, "infeasible_outputs": len(bad),
                       "redraws": 0, "constraint_tries": 0}
    assert all(r["violated"] == "gc" and math.isnan(r["reward"]) for r in bad)
    assert all(gc_content(s) == 0.5 for s in asked) and len(asked) == 16 - len(bad)  # the oracle saw none of them
    assert result.summary["warnings"][-1].startswith(f"{len(bad)} of 16 outputs break a constraint (gc {len(bad)})")


def test_infeasible_samples_never_reach_the_oracle_while_a_sampler_steers():
    asked = []

    def oracle(samples):
        asked.extend(samples)
        return [float(s.count("A")) for s in samples]

    result = steer(MODEL, oracle, SVDD(num_candidates=4, guide_from=0.0), num_samples=8, seed=0,
                   constraints=[HALF_GC])
    assert asked and all(gc_content(s) == 0.5 for s in asked)  # candidates' x0-hat included
    assert result.summary["oracle_calls"]["distinct"] == len(set(asked))
    assert result.summary["constraints"]["infeasible_outputs"] == 0


def test_presets_compose_override_and_combine(compose_config):
    cfg = compose_config(["constraints=[dna_synthesis,restriction_sites]", "constraints.gc.low=0.4",
                          "constraints.homopolymer=null"])
    checks = Constraints.from_config(OmegaConf.to_container(cfg.constraints, resolve=True)).checks
    assert list(checks) == ["gc", "sites"] and checks["gc"].low == 0.4 and "GAGACC" in checks["sites"].sites
    molecule = compose_config(["domain=molecule", "reward=qed", "constraints=molecule_filters", "device=cpu"])
    assert list(build(molecule).constraints.checks) == ["moses_filters", "ring_size"]
    assert compose_config([]).constraints == {}


@pytest.mark.parametrize(("overrides", "message"), [
    (["constraints=dna_synthesis", "constraints.gc.low=0.7"],
     "constraints.gc: low=0.7, high=0.65: a GC window needs 0 <= low <= high <= 1"),
    (["constraints=dna_synthesis", "constraints.homopolymer.length=six"],
     "constraints.homopolymer.length='six' must be an integer"),
    (["+constraints.gc=0.5"], "constraints.gc=0.5 is not a constraint"),
])
def test_a_bad_constraint_setting_names_the_value_and_the_fix(compose_config, overrides, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        build(compose_config([*overrides, "device=cpu"]))


def test_a_constraint_of_another_domain_or_a_bad_tries_value_is_one_line(tmp_path):
    with pytest.raises(UserError, match="constraints.gc checks dna/rna samples, not domain=molecule"):
        Constraints({"gc": GCWindow()}).check_domain("molecule")
    with pytest.raises(UserError, match="constraint_tries=-1 must be an integer >= 0"):
        steer(MODEL, lambda s: [0.0] * len(s), Ancestral(), num_samples=2, constraint_tries=-1)
    done = svdd("run", "constraints=nope", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2 and done.stderr.strip() == (
        "svdd: error: constraints=nope is not an option; available constraints options: dna_synthesis, "
        "molecule_filters, restriction_sites")
