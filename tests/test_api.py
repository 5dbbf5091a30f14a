"""The Python API: the README's example from a folder outside the checkout, plain-function rewards, same samples
as the CLI for the same seed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch

import svdd_cli
from svdd_cli.errors import UserError
from svdd_cli.samplers.svdd import SVDD
from tests.test_cli import svdd

EXAMPLE = '''
import svdd_cli
from svdd_cli.samplers.svdd import SVDD

model = svdd_cli.load_model("dna", num_steps=4, path=PATH)     # a domain's model; settings as keywords
reward = svdd_cli.load_reward("enhancer")                      # any configs/reward option ...
result = svdd_cli.steer(model, reward, SVDD(num_candidates=3), num_samples=4, seed=0)
print(len(result.samples), result.rewards.shape, result.nfe)

def gc(samples):                                               # ... or a plain function
    return [(s.count("G") + s.count("C")) / len(s) for s in samples]

mine = svdd_cli.steer(model, gc, SVDD(num_candidates=3), num_samples=4, seed=0, out="runs/mine")
print(max(abs(a - b) for a, b in zip(mine.rewards.tolist(), gc(mine.samples))) < 1e-6)
'''


def test_readme_example_runs_outside_the_checkout(tiny_checkpoint, tmp_path):
    code = EXAMPLE.replace("PATH", repr(tiny_checkpoint))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["4 torch.Size([4]) 40", "True"]  # NFE: 4 x (1 + M (T - 1))
    summary = json.loads((tmp_path / "runs" / "mine" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["choices"]["reward"] == "gc"
    assert (tmp_path / "runs" / "mine" / "samples.csv").exists()


def test_same_seed_same_samples_as_the_cli(tiny_checkpoint, tmp_path):
    overrides = ["model.num_steps=4", "num_samples=5", "batch_size=3", "sampler.num_candidates=2",
                 "reference_samples=0", "likelihood_draws=1", "device=cpu", f"model.path={tiny_checkpoint}",
                 "seed=3"]
    assert svdd("run", *overrides, f"hydra.run.dir={tmp_path}").returncode == 0
    cli = [row["sequence"] for row in csv.DictReader(open(tmp_path / "samples.csv"))]
    model = svdd_cli.load_model("dna", num_steps=4, path=tiny_checkpoint, device="cpu")
    sampler = svdd_cli.load_sampler("svdd", num_candidates=2)  # the CLI's defaults (configs/sampler/svdd.yaml)
    result = svdd_cli.steer(model, svdd_cli.load_reward("enhancer", device="cpu"), sampler,
                            num_samples=5, seed=3, batch_size=3, likelihood_draws=1)
    assert result.samples == cli and result.nfe == json.loads((tmp_path / "summary.json").read_text())["nfe"]


def test_api_mistakes_are_user_errors(tiny_checkpoint):
    with pytest.raises(UserError, match="model has no setting 'steps'; its settings: path, num_steps"):
        svdd_cli.load_model("dna", steps=4)
    model = svdd_cli.load_model("dna", num_steps=2, path=tiny_checkpoint)
    with pytest.raises(UserError, match="steer\\(\\) has no setting 'batchsize'"):
        svdd_cli.steer(model, lambda s: [0.0] * len(s), SVDD(2), num_samples=2, batchsize=2)
    with pytest.raises(UserError, match="reward=motifs scores dna samples, not domain=rna"):
        svdd_cli.steer(model, svdd_cli.load_reward("motifs"), SVDD(2), num_samples=2, domain="rna")


def test_a_plain_function_reward_steers():
    from tests.conftest import log_uniform, table_model

    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    count_a = lambda samples: [s.count("A") for s in samples]  # noqa: E731
    plain = svdd_cli.steer(model, count_a, SVDD(num_candidates=1), num_samples=32, likelihood_draws=1)
    steered = svdd_cli.steer(model, count_a, SVDD(num_candidates=6), num_samples=32, likelihood_draws=1)
    assert steered.rewards.mean() > plain.rewards.mean() + 1
    assert torch.equal(steered.rewards, torch.tensor(count_a(steered.samples), dtype=torch.float32))
