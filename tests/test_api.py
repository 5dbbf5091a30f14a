"""The Python API: the README's example from a folder outside the checkout, plain-function rewards, same samples
as the CLI for the same seed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import svdd_cli
from svdd_cli.errors import UserError
from svdd_cli.samplers.svdd import SVDD
from tests.test_cli import svdd

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    """The README's "Use from Python" code block."""
    text = README.read_text().split("## Use from Python", 1)[1]
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_example_runs_outside_the_checkout(tmp_path):
    """The README's example as written, shrunk (4 samples, 3 steps, M = 3) so that it takes seconds."""
    code = readme_example()
    shrunk = code.replace("num_steps=20", "num_steps=3").replace("num_samples=64", "num_samples=4")
    shrunk = shrunk.replace("num_candidates=10", "num_candidates=3")
    assert shrunk.count("num_samples=4") == 2 and "num_steps=3" in shrunk and "num_candidates=3" in shrunk
    result = subprocess.run([sys.executable, "-c", shrunk], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().split("\n")[-2:]
    assert len(first.split()[0]) == 20 and int(first.split()[-1]) >= 4 * 3  # 20 letters of a sample; NFE
    summary = json.loads((tmp_path / "runs" / "mine" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["choices"]["reward"] == "gc"
    assert float(second.split()[0]) == summary["reward"]["median"] and second.split()[1] == "runs/mine"
    rows = list(csv.DictReader(open(tmp_path / "runs" / "mine" / "samples.csv")))
    assert len(rows) == 4


def test_same_seed_same_samples_as_the_cli(tiny_checkpoint, tmp_path):
    overrides = ["model.num_steps=4", "num_samples=5", "batch_size=3", "sampler.num_candidates=2",
                 "reference_samples=0", "likelihood_draws=1", "device=cpu", f"model.path={tiny_checkpoint}",
                 "seed=3"]
    assert svdd("run", *overrides, f"hydra.run.dir={tmp_path}").returncode == 0
    cli = [row["sequence"] for row in csv.DictReader(open(tmp_path / "samples.csv"))]
    model = svdd_cli.load_model("dna", num_steps=4, path=tiny_checkpoint, device="cpu")
    sampler = svdd_cli.load_sampler("svdd", domain="dna", num_candidates=2)  # the CLI's defaults on DNA
    natural = svdd_cli.load_reward("composite", terms={"kmer_natural": 3, "kmer_set": 3})  # configs/sampler_domain
    result = svdd_cli.steer(model, svdd_cli.load_reward("enhancer", device="cpu"), sampler,
                            num_samples=5, seed=3, batch_size=3, likelihood_draws=1, natural=natural)
    assert result.samples == cli and result.nfe == json.loads((tmp_path / "summary.json").read_text())["nfe"]


def test_a_sampler_takes_its_domain_settings_like_the_cli():
    from svdd_cli.compose import compose_config

    assert svdd_cli.load_sampler("svdd").guide_from == 0.5
    assert svdd_cli.load_sampler("svdd", domain="molecule").guide_from == 0.0  # configs/sampler_domain/svdd_molecule
    assert svdd_cli.load_sampler("svdd", domain="molecule", guide_from=0.5).guide_from == 0.5
    assert compose_config(["domain=molecule"]).sampler.guide_from == 0.0
    assert compose_config(["domain=molecule", "sampler.guide_from=0.5"]).sampler.guide_from == 0.5
    assert compose_config(["domain=molecule", "sampler=smc"]).sampler.get("guide_from") is None


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
