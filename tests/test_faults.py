"""Plug-ins and faults fail cleanly: one line, non-zero exit, finished batches kept, no empty run folder."""

from __future__ import annotations

import errno
import json
import math
import time
from pathlib import Path

import pytest
import torch

from svdd_cli import api
from svdd_cli.compose import compose_config, instantiate_part
from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.errors import ModelFailed, OracleError, RewardFailed, UserError
from svdd_cli.outputs import RunFolder
from svdd_cli.samplers.svdd import SVDD
from tests.conftest import CountLetter, log_uniform, table_model
from tests.test_cli import svdd

SAMPLERS = ["ancestral", "best_of_n", "svdd", "svdd_r", "smc", "fk", "nested_is", "beam", "refine", "tree",
            "particle_gibbs", "csmc"]  # the gradient-free ones
TINY = ["model.num_steps=3", "num_samples=2", "batch_size=2", "reference_samples=0", "likelihood_draws=1",
        "device=cpu"]


class RaisesAlways:
    def __call__(self, samples):
        raise RuntimeError("oracle server unreachable")


class AllNaN:
    def __call__(self, samples):
        return torch.full((len(samples),), math.nan)


class WrongShape:
    def __call__(self, samples):
        return torch.zeros(len(samples), 2)


class HalfBroken:
    """Scores A-counts, but raises on every sample that starts with C."""

    def __call__(self, samples):
        if any(s.startswith("C") for s in samples):
            raise ValueError("cannot score")
        return CountLetter("A")(samples)


class NaNModel:
    """A model whose network returns NaN (a broken checkpoint)."""

    def __init__(self):
        self.inner = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
        self.device = self.inner.device

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, x_t, t):
        pred = self.inner.predict(x_t, t)
        return type(pred)(pred.x_t, pred.t, pred.x0, torch.full_like(pred.output, math.nan))


SMALL = {"tree": ["sampler.budget=40"]}  # the default tree (500 NFE per sample) takes ~30 s on this toy


def sampler(name):
    return instantiate_part(compose_config([f"sampler={name}", *SMALL.get(name, [])]).sampler, "sampler")


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize(("reward", "message"), [
    (RaisesAlways(), r"gave no valid value .*RuntimeError: oracle server unreachable"),
    (AllNaN(), r"gave no valid value for \d+ of \d+ samples \(it returned NaN/inf\)"),
    (WrongShape(), r"returned shape \((\d+), 2\) for \1 samples; a reward returns one number per sample"),
])
def test_every_sampler_stops_in_one_line_on_a_broken_reward(name, reward, message):
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    with pytest.raises(RewardFailed, match=message) as info:
        api.steer(model, reward, sampler(name), num_samples=4, batch_size=4, likelihood_draws=1)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_goes_on_when_only_some_samples_fail(name):
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    result = api.steer(model, HalfBroken(), sampler(name), num_samples=4, batch_size=4, likelihood_draws=1)
    assert len(result.rows) == 4
    for row in result.rows:  # the samples it fails on get the penalty, the others their score
        assert row["reward"] == (-1000.0 if row["sample"].startswith("C") else row["sample"].count("A"))


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_stops_in_one_line_on_a_broken_model(name):
    with pytest.raises(ModelFailed, match="not finite"):
        api.steer(NaNModel(), CountLetter(), sampler(name), num_samples=2, batch_size=2, likelihood_draws=1)


def test_an_oracle_error_fails_the_batch_without_retrying_each_sample():
    calls = []

    def down(samples):
        calls.append(len(samples))
        raise OracleError("exit status 1: license expired")

    reward = counted_reward(api.as_reward(down), Counters(), -1.0, max_invalid_fraction=0.99)
    with pytest.raises(RewardFailed, match="license expired"):
        reward(["A", "C", "G"])
    assert calls == [3]


def test_a_fraction_of_invalid_values_can_be_allowed():
    reward = counted_reward(AllNaN(), counters := Counters(), -5.0, max_invalid_fraction=1.0)
    assert reward(["A", "C"]).tolist() == [-5.0, -5.0] and counters.invalid_rewards == 2


def test_a_hanging_oracle_stops_at_the_timeout():
    def hangs(samples):
        time.sleep(30)
        return [0.0] * len(samples)

    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    started = time.perf_counter()
    with pytest.raises(RewardFailed, match=r"did not answer within 0.5 s .*reward_timeout=0.5"):
        api.steer(model, hangs, SVDD(num_candidates=2), num_samples=2, batch_size=2, reward_timeout=0.5)
    assert time.perf_counter() - started < 10


def test_out_of_memory_halves_max_batch_and_keeps_the_values():
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    predict = model.predict

    def small_memory(x_t, t):
        if x_t.shape[0] > 4:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return predict(x_t, t)

    x = model.init(16, torch.Generator().manual_seed(0))
    want = predict(x, 1.0).output
    model.predict = small_memory
    counted = counted_model(model, counters := Counters(), max_batch=16)
    torch.testing.assert_close(counted.predict(x, 1.0).output, want)
    assert counted.max_batch == 4 and counters.nfe == 16


def test_a_full_disk_keeps_finished_batches_and_says_resume(tmp_path, monkeypatch):
    add_batch, calls = RunFolder.add_batch, []

    def fills_up(self, batch, rows):
        calls.append(batch)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        add_batch(self, batch, rows)

    monkeypatch.setattr(RunFolder, "add_batch", fills_up)
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    with pytest.raises(UserError, match="no space left .* 1 finished batches are kept.*resume=true"):
        api.steer(model, CountLetter(), SVDD(num_candidates=2), num_samples=4, batch_size=2, out=tmp_path)
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 2


def test_cli_faults_are_one_line_errors_and_leave_no_empty_folder(tiny_checkpoint, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        ([f"hydra.run.dir={blocker}/run"], "is a file, not a folder"),
        (["-m", "hydra/launcher=slurm"], "needs Slurm"),
        (["model.num_steps=ten"], "model.num_steps='ten' must be an integer"),
        (["reward=motifs", "sampler=dps"], "reward=motifs is not differentiable"),
    ]
    for k, (override, message) in enumerate(cases):
        folder = tmp_path / f"run{k}"
        result = svdd("run", *TINY, f"model.path={tiny_checkpoint}", *override, f"hydra.run.dir={folder}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
        assert not folder.exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_run_folder_the_file_system_refuses_is_one_line(tmp_path):
    from svdd_cli.cli import write_refused

    assert write_refused(tmp_path) is None and not any(tmp_path.iterdir())  # the probe file is removed
    assert write_refused(Path("/proc")) is not None  # even for root, whom os.access lets write there
    result = svdd("run", *TINY, "hydra.run.dir=/proc/svdd_run")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("svdd: error: hydra.run.dir=/proc/svdd_run: cannot write in /proc (")
    assert lines[0].endswith("); choose another hydra.run.dir")


def test_cli_reward_failure_keeps_the_finished_batches(tiny_checkpoint, tmp_path):
    plugin = tmp_path / "plugins"
    plugin.mkdir()
    (plugin / "flaky_oracle.py").write_text(
        "import torch\n\n"
        "class SecondBatchFails:  # no `domains`: scores any domain\n"
        "    calls = 0\n\n"
        "    def __call__(self, samples):\n"
        "        type(self).calls += 1\n"
        "        if type(self).calls > 2:\n"
        "            raise RuntimeError('quota exceeded')\n"
        "        return torch.tensor([float(s.count('A')) for s in samples])\n")
    (plugin / "reward").mkdir()
    (plugin / "reward" / "flaky.yaml").write_text("_target_: flaky_oracle.SecondBatchFails\n")
    folder = tmp_path / "run"
    result = svdd("run", "--config-dir", str(plugin), "reward=flaky", "sampler=ancestral", *TINY, "num_samples=6",
                  f"model.path={tiny_checkpoint}", f"hydra.run.dir={folder}", env={"PYTHONPATH": str(plugin)})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "reward=flaky gave no valid value" in lines[0] and "quota exceeded" in lines[0]
    kept = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert len(kept) == 4  # two finished batches of 2 (ancestral calls the reward once a batch)
    assert json.loads((folder / "summary.json").read_text())["status"] == "failed"


def test_a_missing_extra_names_it(monkeypatch):
    import importlib.util

    from svdd_cli.rewards import docking

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vina" else find_spec(name, *a))
    with pytest.raises(UserError, match=r"reward=docking needs vina: pip install 'svdd\[docking\]'"):
        docking.Docking()


def test_a_target_that_does_not_exist_is_one_line(tmp_path):
    result = svdd("run", *TINY, "reward._target_=nosuch.Reward", f"hydra.run.dir={tmp_path / 'run'}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "reward: _target_ nosuch.Reward cannot be imported" in lines[0]


def test_relative_shipped_checkpoint_paths_work_outside_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = api.load_model("dna", path="checkpoints/dna_mdlm", num_steps=2)
    assert model.length == 200
    with pytest.raises(UserError, match="checkpoint folder not found: checkpoints/no_such_model"):
        api.load_model("dna", path="checkpoints/no_such_model")


def test_a_reward_is_named_by_its_config_or_its_class():
    from svdd_cli.core import reward_name
    from svdd_cli.rewards.gravy import Gravy

    class Affinity:  # a plug-in's class, defined outside svdd_cli.rewards
        def __call__(self, samples):
            return torch.zeros(len(samples))

    assert reward_name(Gravy()) == "gravy" and reward_name(Affinity()) == "Affinity"


def test_a_molecule_run_without_the_fcd_extra_notes_it_and_writes_its_summary(tmp_path, monkeypatch, capsys):
    import sys

    from svdd_cli.run import run

    monkeypatch.setitem(sys.modules, "fcd_torch", None)  # `import fcd_torch` fails as when the extra is missing
    cfg = compose_config(["domain=molecule", "reward=qed", "reward.workers=1", "sampler=ancestral", *TINY,
                          "num_samples=4", "domain.fcd_min_samples=1"])
    run(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    note = "fcd_test not computed: fcd_torch cannot be imported (pip install 'svdd[fcd]' adds it)"
    assert summary["status"] == "finished" and summary["notes"] == [note]
    assert "fcd_test" not in summary["naturalness"] and "snn_test2k" in summary["naturalness"]
    assert f"note: {note}\n" in capsys.readouterr().out


def test_a_budget_below_one_pass_names_it_once(tmp_path):
    result = svdd("run", *TINY, "nfe_per_sample=2", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "svdd: error: nfe_per_sample=2 is below the minimum of 3 NFE per sample (num_candidates = 1 over 3 steps)"]


def test_a_plugin_budget_refusal_gets_the_budget_named():
    class Wide(SVDD):
        def with_budget(self, nfe_per_sample, steps):
            raise ValueError("needs at least 99 NFE per sample")

    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    with pytest.raises(UserError, match=r"^nfe_per_sample=5: needs at least 99 NFE per sample$"):
        api.budgeted(Wide(), 5, model)


@pytest.mark.parametrize(("task", "evaluation"), [(["reward=enhancer"], True),  # a held-out oracle: shown
                                                  (["domain=molecule", "reward=qed", "reward.workers=1"], False)])
def test_the_last_line_shows_an_evaluation_only_when_the_reward_has_one(tmp_path, capsys, task, evaluation):
    import re

    from svdd_cli.run import run

    run(compose_config([*task, "sampler=ancestral", *TINY]), tmp_path)
    last = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("finished:"))
    number = r"-?\d[\d.e+-]*"
    held_out = f", evaluation median {number}" if evaluation else ""
    assert re.fullmatch(f"finished: 2 samples in {tmp_path}; reward median {number}{held_out}; NFE/sample 3; "
                        r"distinct oracle calls [12]", last), last  # ancestral: only the 2 final samples


def test_progress_is_logged_from_the_first_step_to_the_plots(tmp_path, caplog):
    import logging
    import re

    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    with caplog.at_level(logging.INFO, logger="svdd"):
        api.steer(model, CountLetter(), SVDD(num_candidates=2), num_samples=4, batch_size=2, reference_samples=2,
                  likelihood_draws=1, out=tmp_path)
    seconds = r"\d+\.\d s"
    expected = [
        r"batch 1/2: drawing 2 samples over 3 steps",
        rf"batch 1/2, step 1/3, {seconds} in, value of kept samples [\d.]+",  # at once, not 30 s in
        rf"batch 1/2: 2 samples, reward median [\d.]+, {seconds} \(sampling {seconds}, final scores {seconds}, "
        rf"log-likelihood {seconds}\), ETA \d+ s",
        rf"batch 2/2: 2 samples, reward median [\d.]+, {seconds} \(sampling {seconds}, final scores {seconds}, "
        rf"log-likelihood {seconds}\), ETA 0 s",
        r"reference: 2 samples of the pre-trained model, scored \(reference_samples=0 skips them\) \.\.\.",
        rf"reference: {seconds}",
        r"naturalness: the domain's figures over 4 samples \.\.\.",
        rf"naturalness: {seconds}",
        rf"plots: {seconds}"]
    messages = [r.getMessage() for r in caplog.records if r.name == "svdd"]
    assert len(messages) == len(expected) and all(map(re.fullmatch, expected, messages)), messages


@pytest.mark.parametrize(("name", "loop"), [("evolve", "generation"), ("csmc", "round")])
def test_a_population_sampler_logs_its_generations(tmp_path, caplog, monkeypatch, name, loop):
    import itertools
    import logging
    import re

    from svdd_cli.samplers.csmc import CSMC
    from svdd_cli.samplers.evolve import Evolve

    clock = itertools.count(0.0, 31.0)  # every reading 31 s after the last: each record is due a line
    monkeypatch.setattr(api.time, "perf_counter", lambda: next(clock))
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=3)
    population = {"evolve": Evolve(generations=2, initial=1), "csmc": CSMC(iterations=2)}[name]
    with caplog.at_level(logging.INFO, logger="svdd"):
        api.steer(model, CountLetter(), population, num_samples=2, batch_size=2,
                  reference_samples=0, likelihood_draws=1, out=tmp_path)
    messages = [r.getMessage() for r in caplog.records if r.name == "svdd"]
    for g in (1, 2):
        line = rf"batch 1/1, {loop} {g}, [\d.]+ s in, population reward mean [\d.]+, best [\d.]+"
        assert any(re.fullmatch(line, m) for m in messages), messages
