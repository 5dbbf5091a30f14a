"""scripts/train_mdlm.py: a tiny DiT trains on SELFIES rows, resumes from its state file where it stopped,
and exports a checkpoint folder that the molecule model config loads and samples from."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from svdd_cli.domains.molecule.tokens import PAD, selfies_to_smiles
from svdd_cli.models.dit import DIT
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.samplers.ancestral import rollout
from svdd_cli.training import load_state

ROOT = Path(__file__).resolve().parent.parent
ROWS = ["[C] [C] [O]", "[C] [=C] [C] [=C] [C] [=C] [Ring1] [=Branch1]", "[N] [C] [C] [=O]", "[C] [C] [N] [C] [C]"]
TINY = ["--hidden", "16", "--blocks", "1", "--heads", "2", "--cond-dim", "8", "--batch-size", "4", "--warmup", "2",
        "--eval-every", "3", "--valid-size", "4", "--minutes", "5"]


def write_data(folder: Path, length: int = 10) -> None:
    folder.mkdir()
    vocab = sorted({t for row in ROWS for t in row.split()} | {PAD})
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    for name in ("train", "valid"):
        padded = [" ".join(r.split() + [PAD] * (length - len(r.split()))) for r in ROWS * 3]
        lines = ["sequence\tsmiles"] + [f"{row}\tC" for row in padded]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")


def train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train_mdlm.py"), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_learning_rate_warms_up_holds_and_cools_down_to_zero():
    spec = importlib.util.spec_from_file_location("train_mdlm", ROOT / "scripts" / "train_mdlm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rate = lambda step, max_steps=None, cooldown=0: module.learning_rate(  # noqa: E731
        {"lr": 1e-3, "warmup": 10}, step, max_steps, cooldown)
    assert rate(4) == 5e-4 and rate(500) == 1e-3 and rate(500, 1000) == 1e-3  # warm-up, then constant
    assert [rate(s, 1000, 400) for s in (500, 600, 800, 999)] == [1e-3, 1e-3, 5e-4, 2.5e-6]
    no_max = train("--data", "x", "--state", "y", "--cooldown", "5")
    assert no_max.returncode == 2 and "--cooldown needs --max-steps" in no_max.stderr


def test_train_resume_export_sample(tmp_path):
    write_data(tmp_path / "data")
    common = ["--data", str(tmp_path / "data"), "--state", str(tmp_path / "state"), *TINY]
    first = train(*common, "--max-steps", "4")
    assert first.returncode == 0, first.stderr
    state = load_state(tmp_path / "state")
    assert state["step"] == 4 and state["optimizer"]["state"][0]["exp_avg"].dtype == torch.bfloat16
    second = train(*common, "--max-steps", "6")
    assert second.returncode == 0 and "resuming at step 4" in second.stdout, second.stderr
    log = [json.loads(line) for line in (tmp_path / "state" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "valid_nelbo_ema" in r] == [3, 6]
    bigger = train(*common, "--batch-size", "6", "--max-steps", "8", "--cooldown", "2")  # a GPU sitting's override
    assert bigger.returncode == 0 and "batch size 4 -> 6" in bigger.stdout, bigger.stderr
    state = load_state(tmp_path / "state")
    assert state["step"] == 8 and state["config"]["train"]["batch_size"] == 6
    exported = train(*common, "--export", str(tmp_path / "ckpt"))
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["tokens"] == "selfies"  # no tokens.txt
    model = MaskedDiffusion.from_checkpoint(tmp_path / "ckpt", num_steps=4, device="cpu", detokenize=selfies_to_smiles)
    assert isinstance(model.denoiser, DIT) and model.length == 10
    ema = load_state(tmp_path / "state")["ema"]
    assert all(torch.equal(model.denoiser.state_dict()[k], v) for k, v in ema.items())
    gen = torch.Generator().manual_seed(0)
    x = rollout(model, model.init(3, gen), gen, lambda record: None)
    assert all(isinstance(s, str) for s in model.decode(x)) and (x != model.mask_id).all()


def test_a_killed_sitting_saves_where_it_stopped(tmp_path):
    write_data(tmp_path / "data")
    command = [sys.executable, str(ROOT / "scripts" / "train_mdlm.py"), "--data", str(tmp_path / "data"),
               "--state", str(tmp_path / "state"), *TINY, "--save-minutes", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in process.stdout:  # the first loss record: the loop is running and no periodic save is due
        if line.startswith("{'step'"):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "SIGTERM: saving after this step" in out
    step = int(out.split("saved step ")[1].split()[0])
    assert step >= 50 and load_state(tmp_path / "state")["step"] == step


def test_positions_join_a_saved_state_and_travel_to_the_checkpoint(tmp_path):
    write_data(tmp_path / "data")
    common = ["--data", str(tmp_path / "data"), "--state", str(tmp_path / "state"), *TINY]
    assert train(*common, "--max-steps", "2").returncode == 0
    short = train(*common, "--positions", "5", "--max-steps", "3")
    assert short.returncode == 2 and "--positions 5 is shorter than the data's 10 tokens" in short.stderr
    resumed = train(*common, "--positions", "10", "--max-steps", "4")
    assert resumed.returncode == 0 and "resuming at step 2" in resumed.stdout, resumed.stderr
    state = load_state(tmp_path / "state")
    assert state["step"] == 4 and state["config"]["backbone"]["positions"] == 10
    assert state["model"]["pos_embed"].abs().sum() > 0  # trained from zero
    assert train(*common, "--max-steps", "5").returncode == 0  # the next sitting keeps them without the flag
    other = train(*common, "--positions", "12", "--max-steps", "6")
    assert other.returncode == 2 and "the saved state already has 10 positions" in other.stderr
    assert train(*common, "--export", str(tmp_path / "ckpt")).returncode == 0
    model = MaskedDiffusion.from_checkpoint(tmp_path / "ckpt", num_steps=4, device="cpu")
    assert model.denoiser.pos_embed.shape == (10, 16)


def test_blocks_join_a_saved_state_zero_gated_so_the_net_computes_the_same(tmp_path):
    write_data(tmp_path / "data")
    without_blocks = TINY[:2] + TINY[4:]  # TINY's "--blocks 1" only makes the first state
    common = ["--data", str(tmp_path / "data"), "--state", str(tmp_path / "state"), *without_blocks]
    assert TINY[2:4] == ["--blocks", "1"] and train(*common, *TINY[2:4], "--max-steps", "3").returncode == 0
    before = load_state(tmp_path / "state")
    grown = train(*common, "--blocks", "3", "--max-steps", "3")  # grows and saves, trains no step
    assert grown.returncode == 0 and "resuming at step 3" in grown.stdout, grown.stderr
    after = load_state(tmp_path / "state")
    assert after["config"]["backbone"]["n_blocks"] == 3
    vocab = len(before["config"]["vocab"]) + 1
    small = DIT(vocab, **{k: v for k, v in before["config"]["backbone"].items() if k != "_target_"})
    deep = DIT(vocab, **{k: v for k, v in after["config"]["backbone"].items() if k != "_target_"})
    small.load_state_dict(before["ema"])
    deep.load_state_dict(after["ema"])
    torch.testing.assert_close(deep.blocks[0].attn_qkv.weight, small.blocks[0].attn_qkv.weight)
    assert deep.blocks[1].attn_qkv.weight.abs().sum() > 0 and deep.blocks[1].adaLN_modulation.weight.abs().sum() == 0
    tokens = torch.randint(0, vocab, (5, 10))
    torch.testing.assert_close(deep.eval()(tokens, torch.zeros(5)), small.eval()(tokens, torch.zeros(5)))
    assert train(*common, "--max-steps", "5").returncode == 0  # the next sitting trains all three blocks
    trained = load_state(tmp_path / "state")
    assert trained["step"] == 5 and trained["model"]["blocks.1.adaLN_modulation.bias"].abs().sum() > 0
    fewer = train(*common, "--blocks", "2", "--max-steps", "6")
    assert fewer.returncode == 2 and "the saved state already has 3 blocks" in fewer.stderr


def test_an_order_sitting_logs_that_orders_nll_and_its_one_cut_loss_estimates_it(tmp_path):
    write_data(tmp_path / "data")
    common = ["--data", str(tmp_path / "data"), "--state", str(tmp_path / "state"), *TINY]
    bad = train(*common, "--order", "right_to_left", "--order-fraction", "1")
    assert bad.returncode == 2 and "--order-fraction 1.0 must be in (0, 1)" in bad.stderr
    done = train(*common, "--order", "right_to_left", "--max-steps", "3")
    assert done.returncode == 0, done.stderr
    log = [json.loads(line) for line in (tmp_path / "state" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "valid_order_nll" in r] == [3]
    spec = importlib.util.spec_from_file_location("train_mdlm", ROOT / "scripts" / "train_mdlm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    vocab = (tmp_path / "data" / "vocab.txt").read_text().split()
    net = DIT(len(vocab) + 1, hidden_size=16, cond_dim=8, n_blocks=1, n_heads=2, dropout=0.0)
    for weight in net.parameters():  # MDLM zero-initialises the output layer: a uniform, order-blind start
        torch.nn.init.normal_(weight, std=0.5)
    model = MaskedDiffusion(net.eval(), vocab, 10)
    rows = model.encode([r.split() + [PAD] * (10 - len(r.split())) for r in ROWS])
    by_hand = {}
    for order, positions in (("left_to_right", range(10)), ("right_to_left", range(9, -1, -1))):
        x_t, nll = torch.full_like(rows, model.mask_id), 0.0  # unmask one position at a time, summing -log p
        with torch.no_grad():
            for i in positions:
                log_probs = model.denoiser_log_probs(x_t, (x_t == model.mask_id).float().mean(-1))
                nll -= log_probs[:, i].gather(-1, rows[:, i:i + 1]).mean().item()
                x_t[:, i] = rows[:, i]
        by_hand[order] = nll
        assert module.validation_order_nll(model, rows, order) == pytest.approx(nll, rel=1e-5)  # mean over cuts
    assert abs(by_hand["left_to_right"] - by_hand["right_to_left"]) > 0.1
