"""Learned RNA oracles: a user's torch module loaded by `_target_` (random weights), and the shipped MFE surrogate."""

from __future__ import annotations

import csv
import json

import pytest
import RNA
import torch
from torch import nn

from svdd_cli.assets import asset_root
from svdd_cli.checkpoint import save_folder
from svdd_cli.errors import UserError
from svdd_cli.rewards.mfe_surrogate import MfeSurrogate
from svdd_cli.rewards.user_oracle import UserOracle
from svdd_cli.science.sequence import one_hot

SURROGATE = asset_root() / "checkpoints" / "rna_mfe_surrogate"


class TinyMRL(nn.Module):
    """Optimus-style: convolutions over one-hot (B, 4, L), flatten, dense -> (B, 1)."""

    def __init__(self, length: int = 50, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(4, channels, 7, padding=3), nn.ReLU())
        self.dense = nn.Linear(channels * length, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.conv(x).flatten(1))


def write_oracle(folder, module: nn.Module, network: dict, alphabet: str = "ACGU") -> None:
    save_folder(folder, {"network": network, "alphabet": alphabet, "length": 50}, module)


@pytest.fixture
def tiny(tmp_path):
    torch.manual_seed(0)
    net = TinyMRL().eval()
    write_oracle(tmp_path / "mrl", net, {"_target_": f"{__name__}.TinyMRL", "length": 50, "channels": 8})
    return tmp_path / "mrl", net


def test_user_oracle_loads_by_target_and_scores_like_the_module(tiny):
    folder, net = tiny
    seqs = ["ACGU" * 12 + "AC", "U" * 50, "ACGT" * 12 + "AC"]  # T is read as U
    expected = net(one_hot([s.replace("T", "U") for s in seqs], "ACGU")[0]).squeeze(1).detach()
    assert torch.allclose(UserOracle(folder, device="cpu")(seqs), expected, atol=1e-6)
    assert torch.allclose(UserOracle(folder, scale=-2.0, device="cpu")(seqs), -2 * expected, atol=1e-6)
    assert UserOracle(folder, penalty=-9.0, device="cpu")(["ACGU" * 5, "ACGN" * 12 + "AC"]).tolist() == [-9.0, -9.0]


def test_a_dna_trained_oracle_scores_rna(tiny, tmp_path):
    folder, net = tiny
    write_oracle(tmp_path / "dna", net, {"_target_": f"{__name__}.TinyMRL"}, alphabet="ACGT")
    rna = ["ACGU" * 12 + "AC", "U" * 50]
    dna = UserOracle(tmp_path / "dna", device="cpu")
    assert torch.equal(dna(rna), dna([s.replace("U", "T") for s in rna]))
    assert torch.allclose(dna(rna), UserOracle(folder, device="cpu")(rna))


def test_user_oracle_is_differentiable_on_relaxed_sequences(tiny):
    folder, _ = tiny
    oracle = UserOracle(folder, device="cpu")
    logits = torch.zeros(3, 50, 4, requires_grad=True)
    oracle.score_probs(logits.softmax(-1)).sum().backward()
    assert logits.grad.abs().sum() > 0 and torch.isfinite(logits.grad).all()
    hard = one_hot(["ACGU" * 12 + "AC"], "ACGU")[0].transpose(1, 2)
    assert oracle.score_probs(hard).item() == pytest.approx(oracle(["ACGU" * 12 + "AC"]).item(), abs=1e-5)


def test_bad_user_checkpoints_are_user_errors(tmp_path):
    write_oracle(tmp_path / "no_target", TinyMRL(), {"length": 50})
    with pytest.raises(UserError, match="_target_"):
        UserOracle(tmp_path / "no_target")
    write_oracle(tmp_path / "bad_target", TinyMRL(), {"_target_": "no.such.Module"})
    with pytest.raises(UserError, match="cannot build no.such.Module"):
        UserOracle(tmp_path / "bad_target")
    write_oracle(tmp_path / "per_position", nn.Conv1d(4, 1, 1), {"_target_": "torch.nn.Conv1d", "in_channels": 4,
                                                                  "out_channels": 1, "kernel_size": 1})
    with pytest.raises(UserError, match="one number per sequence"):
        UserOracle(tmp_path / "per_position")
    with pytest.raises(UserError, match=str(tmp_path / "missing")):
        UserOracle(tmp_path / "missing")


def test_surrogate_tracks_vienna_on_heldout_utrs():
    """Held-out test-split UTRs the surrogate never saw: close to ViennaRNA's MFE."""
    with open(asset_root() / "tests" / "data" / "rna_test_sample.tsv") as f:
        seqs = [row["sequence"] for row in csv.DictReader(f, delimiter="\t")]
    truth = torch.tensor([RNA.fold(s)[1] for s in seqs])
    stable = MfeSurrogate(SURROGATE, "stable", device="cpu")(seqs)
    r2 = 1 - ((-stable - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    assert r2 > 0.7
    assert torch.allclose(MfeSurrogate(SURROGATE, "open", device="cpu")(seqs), -stable)
    metrics = json.loads((SURROGATE / "metrics.json").read_text())
    assert metrics["test_r2"] > 0.7


def test_surrogate_rejects_a_bad_direction():
    with pytest.raises(ValueError, match="direction"):
        MfeSurrogate(SURROGATE, "sideways", device="cpu")
