"""reward=pareto: its terms and checks, the ledger keeping each sample's objective vector (never a number that
depends on the batch), every sampler steering with it, and `svdd run domain=molecule reward=pareto` end to end
(objective columns, pareto_rank, summary.json's pareto block, pareto.png, `svdd report`'s hypervolume)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from svdd_cli.api import steer
from svdd_cli.core import Counters, MultiObjective, counted_reward, output_rewards
from svdd_cli.errors import UserError
from svdd_cli.fronts import hypervolume, pareto_ranks
from svdd_cli.oracle_calls import OracleLedger
from svdd_cli.rewards.pareto import Pareto
from svdd_cli.rewards.qed import Qed
from svdd_cli.rewards.sa import Sa
from tests.conftest import CONFIGS, log_uniform, table_model
from tests.test_cli import svdd

KNOWN = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CCO", "c1ccc2ccccc2c1", "CCN(CC)CC"]
ONE_CORE = {"qed": {"workers": 1}, "sa": {"workers": 1}}
MOLECULES = {"terms": {"qed": "max", "sa": "max"}, "ranges": {"qed": [0, 1], "sa": [0, 1]}, "options": ONE_CORE}
DNA = {"terms": {"enhancer": "max", "motifs": "max"}, "ranges": {"enhancer": [-6, 8], "motifs": [0, 8]},
       "device": "cpu"}
STEPS = 4
MODEL = table_model(log_uniform(200, 4), "ACGT", num_steps=STEPS)  # 200-bp DNA: the enhancer oracle's length
SAMPLERS = sorted(p.stem for p in (CONFIGS / "sampler").glob("*.yaml") if p.stem != "dps")  # dps: reward gradients


def test_the_objectives_are_the_terms_oriented_and_each_row_is_scored_for_its_output():
    reward = Pareto({"qed": "max", "sa": "min"}, {"qed": [0, 1], "sa": [0, 1]}, options=ONE_CORE)
    assert isinstance(reward, MultiObjective) and reward.domains == ("molecule",)
    values = reward.objective_values(KNOWN)
    assert torch.allclose(values, torch.stack([Qed(workers=1)(KNOWN), -Sa(workers=1)(KNOWN)], 1))
    assert torch.equal(reward(KNOWN), reward.scalarise(values, torch.arange(5)))  # row j for output j
    same = output_rewards(reward, KNOWN, torch.zeros(5, dtype=torch.long))  # all candidates for output 0
    assert torch.equal(same.argsort(), reward.scalarise(values, torch.zeros(5, dtype=torch.long)).argsort())


def test_bad_terms_are_one_line_errors():
    with pytest.raises(UserError, match=r"^reward.terms: nope is not a reward; available: .*qed"):
        Pareto({"qed": "max", "nope": "max"}, {"qed": [0, 1], "nope": [0, 1]})
    with pytest.raises(UserError, match=r"^reward.terms.sa=-1 is not a direction; use max or min"):
        Pareto({"qed": "max", "sa": -1}, {"qed": [0, 1], "sa": [0, 1]})
    with pytest.raises(UserError, match="share no domain"):
        Pareto({"qed": "max", "motifs": "max"}, {"qed": [0, 1], "motifs": [0, 8]})


def test_the_ledger_keeps_each_sample_s_vector_so_a_cached_value_is_never_stale(tmp_path):
    reward = Pareto(**MOLECULES)
    ledger = OracleLedger(path=tmp_path / "oracle_calls.csv", objectives=reward.objectives.labels)
    counters = Counters()
    counted = counted_reward(reward, counters, -1000.0, ledger=ledger)
    first = output_rewards(counted, KNOWN[:3], torch.tensor([0, 0, 0]))
    again = output_rewards(counted, KNOWN[:3], torch.tensor([1, 1, 1]))  # the same samples for another output
    assert ledger.calls == 3 and ledger.repeats == 3 and counters.reward_calls == 6
    truth = reward.objective_values(KNOWN[:3])
    assert torch.equal(first, reward.scalarise(truth, torch.tensor([0, 0, 0])))
    assert torch.equal(again, reward.scalarise(truth, torch.tensor([1, 1, 1]))) and not torch.equal(first, again)
    mixed = counted(KNOWN[::-1])  # repeats at other positions, two new samples
    assert torch.equal(mixed, reward(KNOWN[::-1])) and ledger.calls == 5
    with open(tmp_path / "oracle_calls.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["order", "sample", "qed", "sa"] and [r["sample"] for r in rows] == KNOWN[:3] + KNOWN[:2:-1]
    resumed = OracleLedger(path=tmp_path / "oracle_calls.csv", objectives=reward.objectives.labels)
    assert torch.equal(resumed.score(reward.objective_values, KNOWN), reward.objective_values(KNOWN))
    assert resumed.calls == 5 and resumed.repeats == 5
    assert resumed.summary()["distinct"] == 5 and resumed.summary()["top1"] is None


def test_infeasible_invalid_and_refused_samples_get_the_worst_value_of_every_objective():
    reward = Pareto(**MOLECULES)
    feasible = lambda samples: torch.tensor([s != "CCO" for s in samples])  # noqa: E731
    ledger = OracleLedger(budget=3, objectives=reward.objectives.labels)
    counted = counted_reward(reward, Counters(), -1000.0, ledger=ledger, feasible=feasible)
    values = counted.objective_values(KNOWN)
    assert values[2].tolist() == [-1000.0, -1000.0]  # breaks the constraint: no oracle call
    assert values[4].tolist() == [-1000.0, -1000.0] and ledger.refused_sample(KNOWN[4])  # the budget ran out
    assert torch.equal(values[[0, 1, 3]], reward.objective_values([KNOWN[i] for i in (0, 1, 3)]))
    assert counted(KNOWN)[[2, 4]].max() < counted(KNOWN)[[0, 1, 3]].min()


def test_a_natural_term_adds_to_the_value_a_front_steers_by_never_to_its_objectives(tmp_path):
    reward = Pareto(**MOLECULES)
    heavy = lambda samples: torch.tensor([float(len(s)) for s in samples])  # noqa: E731
    feasible = lambda samples: torch.tensor([s != "CCO" for s in samples])  # noqa: E731
    ledger = OracleLedger(objectives=reward.objectives.labels)
    counted = counted_reward(reward, Counters(), -1000.0, ledger=ledger, feasible=feasible, natural=heavy)
    outputs = torch.tensor([0, 0, 1, 1, 1])
    steered = output_rewards(counted, KNOWN, outputs)
    values = reward.objective_values(KNOWN)
    plain = reward.scalarise(values, outputs)
    keep = torch.tensor([True, True, False, True, True])  # "CCO" breaks the constraint: its penalty, no term
    assert torch.allclose(steered[keep], (plain + heavy(KNOWN))[keep]) and steered[2] < -100
    assert torch.equal(counted.objective_values(KNOWN)[keep], values[keep])  # the objectives (and the ledger) unchanged
    assert torch.allclose(counted(KNOWN)[keep], (reward(KNOWN) + heavy(KNOWN))[keep])


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_steers_with_a_front_and_every_cached_vector_is_the_terms_values(compose_config, tmp_path,
                                                                                       name):
    sampler = instantiate(compose_config([f"sampler={name}", "device=cpu"]).sampler)
    reward = Pareto(**DNA)
    result = steer(MODEL, reward, sampler, num_samples=4, seed=0, out=tmp_path, batch_size=2, reference_samples=2,
                   likelihood_draws=1)
    assert result.summary["pareto"]["front_size"] >= 1 and (tmp_path / "pareto.png").exists()
    assert {"objective_enhancer", "objective_motifs", "pareto_rank"} <= set(result.rows[0])
    with open(tmp_path / "oracle_calls.csv", newline="") as f:
        calls = list(csv.DictReader(f))
    assert result.summary["oracle_calls"]["distinct"] == len(calls) == len({c["sample"] for c in calls})
    truth = reward.objective_values([c["sample"] for c in calls])
    cached = torch.tensor([[float(c["enhancer"]), float(c["motifs"])] for c in calls])
    assert torch.allclose(cached, truth, atol=1e-5)


def test_reward_gradient_guidance_says_a_front_is_not_differentiable(compose_config):
    sampler = instantiate(compose_config(["sampler=dps", "device=cpu"]).sampler)
    with pytest.raises(UserError, match="reward=pareto is not differentiable"):
        steer(MODEL, Pareto(**DNA), sampler, num_samples=2, reference_samples=0)


TINY = ["domain=molecule", "reward=pareto", "model.num_steps=4", "num_samples=8", "batch_size=4",
        "sampler.num_candidates=3", "reference_samples=4", "likelihood_draws=1", "device=cpu"]


def test_a_molecule_run_writes_the_front(tmp_path):
    result = svdd("run", *TINY, f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "run" / "samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and list(rows[0])[-5:-2] == ["objective_qed", "objective_sa", "pareto_rank"]
    for r in rows:  # each term's own value: QED as RDKit's column, SA as (10 - SA) / 9
        assert float(r["objective_qed"]) == pytest.approx(float(r["qed"]), abs=1e-5)
        assert float(r["objective_sa"]) == pytest.approx((10 - float(r["sa"])) / 9, abs=1e-5)
    points = torch.tensor([[float(r["objective_qed"]), float(r["objective_sa"])] for r in rows])
    assert [int(r["pareto_rank"]) for r in rows] == pareto_ranks(points)
    front = points[[int(r["pareto_rank"]) == 0 for r in rows]]
    assert not any(bool((a >= b).all() and (a > b).any()) for a in front for b in front)
    assert all(any(bool((a >= p).all()) for a in front) for p in points)  # every row dominated by or tied to the front
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    block = summary["pareto"]
    assert block["front_size"] == len(front) and block["reference_point"] == {"qed": 0.0, "sa": 0.0}
    assert 0 < block["reference_hypervolume"] < 1 and 0 < block["hypervolume"] < 1
    real = Path(CONFIGS.parent / "checkpoints" / "real_samples" / "molecule.txt").read_text().splitlines()
    n = summary["settings"]["reference_samples"]
    truth = Pareto(**MOLECULES).objective_values(real[:n])  # the first reference_samples real test molecules
    assert block["real_samples"] == n and block["real_hypervolume"] == pytest.approx(hypervolume(truth), abs=1e-6)
    assert (tmp_path / "run" / "pareto.png").stat().st_size > 1000
    again = svdd("run", *TINY, "sampler=best_of_n", f"hydra.run.dir={tmp_path / 'best'}")
    assert again.returncode == 0, again.stderr
    report = svdd("report", str(tmp_path), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| top-10% | hypervolume | held-out median |" in text.splitlines()[2]
    assert f"{block['hypervolume']:.4f}" in text and (tmp_path / "report" / "fronts.png").exists()
    assert "above the reference point (qed 0, sa 0)" in text


def test_a_bad_direction_on_the_command_line_is_one_line(tmp_path):
    result = svdd("run", *TINY, "reward.terms.sa=lower", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "svdd: error: reward.terms.sa=lower is not a direction; use max or min (e.g. reward.terms.sa=max)"]


def test_shards_merge_into_the_single_run_s_front(tmp_path):
    single = svdd("run", *TINY, "reference_samples=0", f"hydra.run.dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr
    sweep = svdd("run", "-m", *TINY, "reference_samples=0", "num_shards=2", "shard=0,1",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert sweep.returncode == 0, sweep.stderr
    assert svdd("merge", str(tmp_path / "sweep")).returncode == 0
    merged = tmp_path / "sweep" / "merged-0"
    assert (merged / "samples.csv").read_text() == (tmp_path / "single" / "samples.csv").read_text()
    a, b = (json.loads((d / "summary.json").read_text())["pareto"] for d in (merged, tmp_path / "single"))
    assert a == b and (merged / "pareto.png").exists()
