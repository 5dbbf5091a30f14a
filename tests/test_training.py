"""Resumable training states (svdd_cli.training): shards + state.json, legacy state.pt, kill mid-write."""

from __future__ import annotations

import json

import pytest
import torch

from svdd_cli import training
from svdd_cli.training import compact_optimizer, expand_optimizer, load_state, save_state, use_bf16


def sitting(net: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    for _ in range(steps):
        loss = net(torch.randn(4, 8)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    return net, torch.optim.AdamW(net.parameters(), lr=1e-2)


def state_of(net, opt, step: int) -> dict:
    return {"model": net.state_dict(), "optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "step": step,
            "config": {"widths": [8, 16], "name": "toy", "lr": 1e-2}}


def test_a_resumed_sitting_continues_exactly(tmp_path):
    net, opt = fresh()
    sitting(net, opt, 3)
    save_state(state_of(net, opt, 3), tmp_path)
    sitting(net, opt, 2)
    straight = [p.detach().clone() for p in net.parameters()]

    saved = load_state(tmp_path)
    net2, opt2 = fresh()
    net2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["rng"])
    sitting(net2, opt2, 2)
    assert saved["step"] == 3 and saved["config"] == {"widths": [8, 16], "name": "toy", "lr": 1e-2}
    assert all(torch.equal(a, b) for a, b in zip(straight, net2.parameters()))


def test_compact_moments_round_trip_to_bf16_precision(tmp_path):
    net, opt = fresh()
    sitting(net, opt, 2)
    save_state({"optimizer": compact_optimizer(opt.state_dict())}, tmp_path)
    back = expand_optimizer(load_state(tmp_path)["optimizer"])
    for key, moments in opt.state_dict()["state"].items():
        assert torch.allclose(back["state"][key]["exp_avg"], moments["exp_avg"], rtol=1e-2, atol=1e-6)


def test_shards_stay_under_the_limit_and_old_shards_go(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "SHARD_BYTES", 1000)
    tensors = {f"w{i}": torch.zeros(100) for i in range(6)}  # 400 bytes each: two per shard
    save_state({"model": tensors}, tmp_path)
    first = sorted(p.name for p in tmp_path.glob("state-*.safetensors"))
    save_state({"model": tensors}, tmp_path)
    second = sorted(p.name for p in tmp_path.glob("state-*.safetensors"))
    assert len(first) == len(second) == 3 and not set(first) & set(second)
    assert all(p.stat().st_size < 1000 + 200 for p in tmp_path.glob("state-*.safetensors"))  # + header
    assert json.loads((tmp_path / "state.json").read_text())["shards"] == second


def test_a_kill_while_shards_are_written_keeps_the_previous_state(tmp_path, monkeypatch):
    save_state({"step": 1, "w": torch.ones(3)}, tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        save_state({"step": 2, "w": torch.zeros(3)}, tmp_path)
    saved = load_state(tmp_path)
    assert saved["step"] == 1 and torch.equal(saved["w"], torch.ones(3))


def test_a_legacy_state_pt_is_read_and_replaced_by_shards(tmp_path):
    torch.save({"step": 7, "w": torch.arange(3.0)}, tmp_path / "state.pt")
    saved = load_state(tmp_path)
    assert saved["step"] == 7
    save_state(saved, tmp_path)
    assert not (tmp_path / "state.pt").exists() and load_state(tmp_path)["step"] == 7


def test_no_state_is_none(tmp_path):
    assert load_state(tmp_path) is None


def test_bf16_is_on_by_default_only_where_it_is_fast(tmp_path):
    amx, avx2 = tmp_path / "amx", tmp_path / "avx2"
    amx.write_text("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    avx2.write_text("flags\t\t: fpu avx2 fma\n")
    cpu = torch.device("cpu")
    assert use_bf16(cpu, cpuinfo=amx)
    assert not use_bf16(cpu, cpuinfo=avx2)  # emulated bf16: a training step ~100x slower
    assert not use_bf16(cpu, cpuinfo=tmp_path / "missing")  # no /proc (macOS, Windows)
    assert use_bf16(torch.device("cuda"), cpuinfo=avx2)
    assert use_bf16(cpu, True, avx2) and not use_bf16(cpu, False, amx)  # --bf16 / --no-bf16 win
