"""SVDD-MC: `svdd train-value` writes a loadable value network, the loader's errors, sampler=svdd_mc from the
CLI (1 NFE per sample per step), and on a toy model whose value is known exactly the fitted value network
tracks it and steers sampling."""

from __future__ import annotations

import json
import math

import pytest
import torch

from svdd_cli.assets import asset_root
from svdd_cli.checkpoint import save_folder
from svdd_cli.core import Counters, counted_model
from svdd_cli.errors import UserError
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.svdd_mc import SVDDMC
from svdd_cli.train_value import ValueSettings, fit, pearson
from svdd_cli.value.data import draw_rollouts
from svdd_cli.value.network import ValueNetwork, load_value_network
from tests.conftest import CountLetter, log_uniform, table_model
from tests.test_cli import svdd

SHIPPED = asset_root() / "checkpoints" / "dna_enhancer_value"
TINY_TRAIN = ["model.num_steps=4", "value.rollouts=6", "value.heldout=4", "value.batch_size=4", "value.epochs=1",
              "value.network.channels=8", "value.network.layers=2", "device=cpu"]


def test_train_value_writes_a_loadable_folder(tmp_path):
    out = tmp_path / "value"
    result = svdd("train-value", "domain=dna", "reward=enhancer", *TINY_TRAIN, f"value.out={out}",
                  f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    net = load_value_network(out, "cpu")
    assert net.vocab == list("ACGT") and net.length == 200 and net.hparams["channels"] == 8
    x = torch.full((3, 200), 4)
    assert net.value(x, 0.5).shape == (3,)
    onehot = net.one_hot(x).requires_grad_()
    net(onehot, torch.full((3,), 0.5)).sum().backward()
    assert onehot.grad.shape == (3, 200, 5)  # classifier guidance takes gradients w.r.t. the one-hot
    config = json.loads((out / "config.json").read_text())
    assert config["domain"] == "dna" and config["reward"] == "enhancer" and config["targets"] == "reward"
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["per_step"]) == 3 and metrics["nfe"] == (6 + 4) * 4
    card = (out / "MODEL_CARD.md").read_text()
    assert "svdd train-value domain=dna reward=enhancer" in card and "| 3 | 0.25 |" in card


@pytest.mark.parametrize(("override", "message"), [
    ("value.epochs=0", "value.epochs=0 must be an integer >= 1"),
    ("value.nope=1", "Could not override 'value.nope': no such setting (`svdd train-value --help`")])
def test_train_value_mistakes_are_one_line_errors(tmp_path, override, message):
    result = svdd("train-value", *TINY_TRAIN, override, f"hydra.run.dir={tmp_path}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr


def test_loader_errors_name_the_folder(tmp_path):
    with pytest.raises(UserError, match="not found: /no/such/value"):
        load_value_network("/no/such/value", "cpu")
    (tmp_path / "config.json").write_text(json.dumps({"vocab": list("ACGT"), "length": 200, "network": {}}))
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="missing or corrupt"):
        load_value_network(tmp_path, "cpu")
    save_folder(tmp_path, {"vocab": list("ACGT")}, ValueNetwork("ACGT", 200))
    with pytest.raises(UserError, match="not a value network"):
        load_value_network(tmp_path, "cpu")


def test_svdd_mc_run_costs_one_network_evaluation_per_sample_per_step(tmp_path):
    result = svdd("run", "sampler=svdd_mc", "model.num_steps=4", "num_samples=5", "batch_size=3",
                  "sampler.num_candidates=3", "reference_samples=0", "likelihood_draws=1", "device=cpu",
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["nfe"] == 5 * 4 and summary["nfe_per_sample"] == 4
    trace = [json.loads(line) for line in open(tmp_path / "trace.jsonl")]
    assert [r["value_net_evals"] for r in trace] == [3 * 3, 3 * 3, 3 * 3, 0, 2 * 3, 2 * 3, 2 * 3, 0]


def test_svdd_mc_refuses_a_value_network_of_another_model():
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=4)
    with pytest.raises(UserError, match=r"trained for tokens \['A', 'C', 'G', 'T'\] x 200.*x 10"):
        SVDDMC(SHIPPED, num_candidates=2, device="cpu").sample(model, CountLetter(), 2, torch.Generator(),
                                                               lambda record: None)


def test_value_network_learns_a_known_value_and_steers():
    """Uniform i.i.d. letters, r = number of A's: the exact value is #A + #masked / 4 (a martingale)."""
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=8)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    train, heldout = (draw_rollouts(model, CountLetter(), n, 64, generator) for n in (512, 128))
    net = ValueNetwork("ACGT", 10, channels=16, layers=2, pool=1)
    fit(net, train, heldout, ValueSettings(epochs=10, train_batch=128, lr=3e-3))
    states = heldout.x.flatten(0, 1).long()  # (N*S, L)
    exact = (states == 0).sum(1) + (states == 4).sum(1) / 4
    v = net(net.one_hot(states), heldout.t.repeat(heldout.x.shape[0])).detach()
    assert pearson(v, exact) > 0.9
    counters = Counters()
    x = SVDDMC(net.eval(), num_candidates=8).sample(counted_model(model, counters, 4096), CountLetter(), 64,
                                                    torch.Generator().manual_seed(1), lambda record: None)
    x_anc = Ancestral().sample(model, CountLetter(), 64, torch.Generator().manual_seed(1), lambda record: None)
    assert CountLetter()(model.decode(x)).mean() > CountLetter()(model.decode(x_anc)).mean() + 2
    assert counters.nfe == 64 * 8


def test_soft_targets_match_the_exact_soft_value():
    """Same toy model: alpha log E[exp(r / alpha) | x_t] = #A + alpha #masked log(3/4 + e^(1/alpha) / 4) (alpha = 1),
    about 0.5 above the plain mean #A + #masked / 4 on these states."""
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=8)
    data = draw_rollouts(model, CountLetter(), 32, 32, torch.Generator().manual_seed(0), completions=256,
                         completion_every=3, alpha=1.0)
    assert data.labelled.tolist() == [True, False, False, True, False, False, True]
    states = data.x[:, data.labelled].long()
    exact = (states == 0).sum(-1) + (states == 4).sum(-1) * math.log(0.75 + math.e / 4)
    assert (data.target[:, data.labelled] - exact).abs().mean() < 0.15
