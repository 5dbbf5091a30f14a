"""Oracle calls as a compute axis: the ledger of distinct calls (repeats free), oracle_calls.csv, PMO's AUC top-10
in the summary, and oracle_budget obeyed by every sampler."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from hydra.utils import instantiate

from svdd_cli.api import steer
from svdd_cli.core import Counters, Metered, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.oracle_calls import OracleLedger, auc_top_n, best_so_far, sample_key
from tests.conftest import CONFIGS, log_uniform, table_model

STEPS, LENGTH = 6, 200
MODEL = table_model(log_uniform(LENGTH, 4), "ACGT", num_steps=STEPS)
NOT_SUPPORTED = {"classifier_guidance", "dps"}  # gradient guidance: no oracle calls on samples to count
SAMPLERS = sorted(p.stem for p in (CONFIGS / "sampler").glob("*.yaml") if p.stem not in NOT_SUPPORTED)


class CountingOracle:
    """Fraction of G in a sequence; remembers every sample it was asked to score."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, samples: list[str]) -> list[float]:
        self.asked += samples
        return [s.count("G") / len(s) for s in samples]


def read_calls(folder) -> list[dict[str, str]]:
    with open(folder / "oracle_calls.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_auc_top_n_is_pmo_s_trapezoid_rule_computed_by_hand():
    # logs every 2 calls, top-2 means: after 2 calls (0.1+0.5)/2 = 0.3, after 4 (0.9+0.5)/2 = 0.7, held to 6 calls:
    # 2 * (0 + 0.3) / 2 + 2 * (0.3 + 0.7) / 2 + 2 * 0.7 = 2.7, over 6 calls = 0.45
    assert auc_top_n([0.1, 0.5, 0.3, 0.9], max_calls=6, top_n=2, every=2) == pytest.approx(0.45)
    # PMO's first trapezoid starts from 0: constant scores of 1 over 200 calls give (50 + 100) / 200 = 0.75, and
    # over 50 calls (no log point yet) 25 / 50 = 0.5
    assert auc_top_n([1.0] * 200, max_calls=200) == pytest.approx(0.75)
    assert auc_top_n([1.0] * 50, max_calls=50) == pytest.approx(0.5)


def test_best_so_far_logs_every_hundred_calls_and_the_last():
    scores = [i / 250 for i in range(250)]
    curve = best_so_far(scores)
    assert [p["calls"] for p in curve] == [100, 200, 250]
    assert curve[0]["top1"] == pytest.approx(99 / 250)
    assert curve[-1]["top10"] == pytest.approx(sum(range(240, 250)) / 10 / 250)


def test_the_ledger_pays_each_distinct_sample_once_and_writes_it_in_call_order(tmp_path):
    oracle = CountingOracle()
    ledger = OracleLedger(path=tmp_path / "oracle_calls.csv")
    first = ledger.score(oracle, ["GGAA", "ACGT", "GGAA"])
    again = ledger.score(oracle, ["ACGT", "TTTT"])
    assert first.tolist() == [0.5, 0.25, 0.5] and again.tolist() == [0.25, 0.0]
    assert oracle.asked == ["GGAA", "ACGT", "TTTT"]  # a repeat, in the batch or later, is free
    assert (ledger.calls, ledger.repeats) == (3, 2)
    assert [(r["order"], r["sample"], float(r["score"])) for r in read_calls(tmp_path)] == [
        ("0", "GGAA", 0.5), ("1", "ACGT", 0.25), ("2", "TTTT", 0.0)]
    resumed = OracleLedger(path=tmp_path / "oracle_calls.csv")  # a resumed run keeps what it paid for
    resumed.score(oracle, ["GGAA", "CCCC"])
    assert oracle.asked[-1] == "CCCC" and resumed.calls == 4


def test_a_spent_budget_leaves_unseen_samples_unscored_and_below_every_score():
    oracle = CountingOracle()
    ledger = OracleLedger(budget=2, unscored=-1000.0)
    values = ledger.score(oracle, ["GGGG", "AAAA", "CCCC", "GGGG"])
    assert values.tolist() == [1.0, 0.0, -1000.0, 1.0] and oracle.asked == ["GGGG", "AAAA"]
    assert ledger.spent and ledger.refused_sample("CCCC") and not ledger.refused_sample("GGGG")
    assert ledger.refused == 1 and ledger.calls_left() == 0
    counted = counted_reward(oracle, Counters(), -1.0, ledger=ledger)
    assert isinstance(counted, Metered) and counted.calls_left() == 0
    assert counted_reward(oracle, Counters(), -1.0).calls_left() is None  # no ledger: no cap


def test_images_are_keyed_by_their_bytes():
    image = torch.rand(1, 4, 4)
    assert sample_key(image) == sample_key(image.clone()) != sample_key(image + 1e-3)


def test_a_run_writes_each_distinct_call_once_and_its_summary_reports_pmo_s_auc(tmp_path):
    from svdd_cli.samplers.svdd import SVDD

    oracle = CountingOracle()
    result = steer(MODEL, oracle, SVDD(num_candidates=4), num_samples=6, seed=0, out=tmp_path, batch_size=3)
    rows = read_calls(tmp_path)
    assert len(oracle.asked) == len(set(oracle.asked)) == len(rows)  # the oracle never saw a sample twice
    assert [r["sample"] for r in rows] == oracle.asked  # in call order
    calls = result.summary["oracle_calls"]
    scores = [float(r["score"]) for r in rows]
    assert calls["distinct"] == len(rows) <= result.counters.reward_calls
    assert calls["auc_top10"] == pytest.approx(auc_top_n(scores, len(scores)), abs=1e-12)
    assert calls["top1"] == max(scores)
    assert {r["sample"] for r in result.rows} <= set(oracle.asked)  # final scores come from the ledger


def test_the_summary_says_how_much_of_the_wall_time_the_oracle_took(tmp_path):
    import time

    from svdd_cli.samplers.best_of_n import BestOfN

    def slow(samples: list[str]) -> list[float]:
        time.sleep(0.05 * len(samples))
        return [float(s.count("A")) for s in samples]

    result = steer(MODEL, slow, BestOfN(num_candidates=4), num_samples=4, seed=0, out=tmp_path, batch_size=4)
    calls = result.summary["oracle_calls"]
    assert calls["oracle_s"] >= 0.05 * calls["distinct"]
    assert 0.3 < calls["oracle_share"] <= 1  # of the whole sitting: sampling, final scores, naturalness, plots


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_stops_at_the_oracle_budget(compose_config, tmp_path, name):
    sampler = instantiate(compose_config([f"sampler={name}", "device=cpu"]).sampler)
    oracle = CountingOracle()
    result = steer(MODEL, oracle, sampler, num_samples=8, seed=0, out=tmp_path, batch_size=2, oracle_budget=12)
    assert len(set(oracle.asked)) == len(oracle.asked) <= 12
    assert result.summary["oracle_calls"]["distinct"] == len(read_calls(tmp_path)) == len(oracle.asked)
    scored = [r for r in result.rows if not math.isnan(r["reward"])]
    assert {r["sample"] for r in scored} <= set(oracle.asked)  # every reported reward was paid for
    if name == "svdd":  # its first batch alone asks for more: the run ends with that batch, its outputs unpaid
        assert len(oracle.asked) == 12 and len(result.rows) == 2 and not scored


def test_best_of_n_spreads_a_budget_that_runs_out_over_every_output(tmp_path):
    from svdd_cli.samplers.best_of_n import BestOfN

    oracle = CountingOracle()
    result = steer(MODEL, oracle, BestOfN(num_candidates=4), num_samples=4, seed=0, out=tmp_path, batch_size=4,
                   oracle_budget=8)  # 16 candidates, 8 calls: two for each output, asked in candidate order
    assert len(oracle.asked) == 8 and all(not math.isnan(r["reward"]) for r in result.rows)
    assert {r["sample"] for r in result.rows} <= set(oracle.asked)  # (output-major, outputs 2 and 3 got no call)


def test_a_bad_oracle_budget_is_a_one_line_error():
    from svdd_cli.samplers.ancestral import Ancestral

    with pytest.raises(UserError, match=r"oracle_budget=0 must be an integer >= 1"):
        steer(MODEL, CountingOracle(), Ancestral(), num_samples=2, oracle_budget=0)
