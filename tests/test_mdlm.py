"""model=mdlm: MDLM-layout checkpoints (Lightning .ckpt with EMA, Hugging Face folder, DRAKES' CNN) load and
run svdd on the DNA domain; the DiT's parameter names and shapes are MDLM's (written out here from its code)."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from svdd_cli.checkpoint import save_folder
from svdd_cli.errors import UserError
from svdd_cli.models.dit import DIT
from svdd_cli.models.dnaconv import DNAConv
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.models.mdlm import MaskLast, from_mdlm
from tests.test_cli import svdd

HIDDEN, COND, BLOCKS, HEADS, VOCAB = 16, 8, 2, 2, 5  # ACGT + mask


def dit_layout(d: int = HIDDEN, c: int = COND, blocks: int = BLOCKS, heads: int = HEADS,
               v: int = VOCAB) -> dict[str, tuple[int, ...]]:
    """MDLM DIT's state dict (models/dit.py), in its parameter order; inv_freq is a buffer."""
    layout = {"vocab_embed.embedding": (v, d), "sigma_map.mlp.0.weight": (c, 256), "sigma_map.mlp.0.bias": (c,),
              "sigma_map.mlp.2.weight": (c, c), "sigma_map.mlp.2.bias": (c,)}
    for i in range(blocks):
        layout |= {f"blocks.{i}.norm1.weight": (d,), f"blocks.{i}.attn_qkv.weight": (3 * d, d),
                   f"blocks.{i}.attn_out.weight": (d, d), f"blocks.{i}.norm2.weight": (d,),
                   f"blocks.{i}.mlp.0.weight": (4 * d, d), f"blocks.{i}.mlp.0.bias": (4 * d,),
                   f"blocks.{i}.mlp.2.weight": (d, 4 * d), f"blocks.{i}.mlp.2.bias": (d,),
                   f"blocks.{i}.adaLN_modulation.weight": (6 * d, c), f"blocks.{i}.adaLN_modulation.bias": (6 * d,)}
    return layout | {"output_layer.norm_final.weight": (d,), "output_layer.linear.weight": (v, d),
                     "output_layer.linear.bias": (v,), "output_layer.adaLN_modulation.weight": (2 * d, c),
                     "output_layer.adaLN_modulation.bias": (2 * d,)}


def cnn_layout(h: int = 16, stacks: int = 1, v: int = VOCAB) -> dict[str, tuple[int, ...]]:
    """DRAKES' CNNModel state dict (drakes_dna/models/dnaconv.py) in its parameter order."""
    layout = {"linear.weight": (h, v, 9), "linear.bias": (h,), "time_embedder.0.W": (h // 2,),
              "time_embedder.1.weight": (h, h), "time_embedder.1.bias": (h,)}
    n = 5 * stacks
    layout |= {f"convs.{i}.{k}": s for i in range(n) for k, s in (("weight", (h, h, 9)), ("bias", (h,)))}
    layout |= {f"time_layers.{i}.dense.{k}": s for i in range(n) for k, s in (("weight", (h, h)), ("bias", (h,)))}
    layout |= {f"norms.{i}.{k}": (h,) for i in range(n) for k in ("weight", "bias")}
    return layout | {"final_conv.0.weight": (h, h, 1), "final_conv.0.bias": (h,), "final_conv.2.weight": (v, h, 1),
                     "final_conv.2.bias": (v,)}


def random_state(layout: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen) * 0.3 for k, s in layout.items()}


def buffers(backbone: str) -> dict[str, torch.Tensor]:
    """MDLM's rotary frequencies buffer (in the DiT's state dict, not a parameter)."""
    dim = HIDDEN // HEADS
    inv_freq = 1.0 / (10_000 ** (torch.arange(0, dim, 2).float() / dim))
    return {"rotary_emb.inv_freq": inv_freq} if backbone == "dit" else {}


def mdlm_config(backbone: str, model: dict, time_conditioning: bool = False, sampling_eps: float = 1e-3):
    """MDLM's Hydra config as its Lightning checkpoints keep it (interpolations it cannot resolve included)."""
    return OmegaConf.create({"backbone": backbone, "parameterization": "subs", "time_conditioning": time_conditioning,
                             "T": 0, "model": model, "training": {"ema": 0.9999, "sampling_eps": sampling_eps},
                             "loader": {"batch_size": "${div_up:${.global_batch_size}, 8}"}})


def lightning_ckpt(path, backbone: str, layout, model: dict, time_conditioning: bool = False,
                   sampling_eps: float = 1e-3) -> tuple[dict, list]:
    """Write a randomly initialised MDLM Lightning checkpoint; returns (plain weights, EMA weights)."""
    state, ema_state = random_state(layout, 0) | buffers(backbone), random_state(layout, 1) | buffers(backbone)
    frozen = {"time_embedder.0.W", "rotary_emb.inv_freq"}  # not trainable: not in the EMA
    ema_state = {k: (state[k] if k in frozen else v) for k, v in ema_state.items()}
    shadow = [v for k, v in ema_state.items() if k not in frozen]
    config = mdlm_config(backbone, model, time_conditioning, sampling_eps)
    torch.save({"epoch": 0, "global_step": 3, "pytorch-lightning_version": "2.2.1",
                "state_dict": {f"backbone.{k}": v for k, v in state.items()},
                "ema": {"decay": 0.9999, "num_updates": 3, "shadow_params": shadow},
                "hyper_parameters": {"config": config}, "optimizer_states": [], "lr_schedulers": []}, path)
    return state, ema_state


DIT_MODEL = {"name": "tiny", "type": "ddit", "hidden_size": HIDDEN, "cond_dim": COND, "length": 200, "n_blocks": BLOCKS,
             "n_heads": HEADS, "scale_by_sigma": True, "dropout": 0.1}
CNN_MODEL = {"name": "dnaconv", "type": "cnn", "length": 200, "hidden_dim": 16, "num_cnn_stacks": 1, "dropout": 0.0,
             "clean_data": False, "cls_free_guidance": False}


def test_dit_has_mdlm_parameter_names_and_shapes():
    net = DIT(VOCAB, HIDDEN, COND, BLOCKS, HEADS)
    assert [(k, tuple(p.shape)) for k, p in net.named_parameters()] == list(dit_layout().items())
    assert set(net.state_dict()) == set(dit_layout()) | {"rotary_emb.inv_freq"}
    tokens = torch.randint(0, VOCAB, (3, 7))
    assert net(tokens, torch.zeros(3)).shape == (3, 7, VOCAB)
    assert torch.all(net(tokens, torch.zeros(3)) == 0)  # zero-initialised head, as MDLM's


def test_dit_attends_by_position_and_time_only_when_conditioned():
    torch.manual_seed(0)
    net = DIT(VOCAB, HIDDEN, COND, BLOCKS, HEADS, dropout=0.0, time_conditioning=True)
    net.load_state_dict(random_state(dit_layout(), 0) | {"rotary_emb.inv_freq": net.rotary_emb.inv_freq}, strict=True)
    tokens = torch.full((1, 6), VOCAB - 1)
    tokens[0, 0] = 2
    out = net(tokens, torch.tensor([0.5]))
    assert not torch.allclose(out[0, 1], out[0, 5], atol=1e-4)  # rotary: same token, different positions
    assert not torch.allclose(out, net(tokens, torch.tensor([2.0])), atol=1e-4)
    net.time_conditioning = False
    assert torch.equal(net(tokens, torch.tensor([0.5])), net(tokens, torch.tensor([2.0])))


def test_dit_positions_tell_positions_apart_where_rotary_cannot():
    torch.manual_seed(0)
    state = random_state(dit_layout(), 0)
    blind = DIT(VOCAB, HIDDEN, COND, BLOCKS, HEADS, dropout=0.0)
    blind.load_state_dict(state | {"rotary_emb.inv_freq": blind.rotary_emb.inv_freq})
    placed = DIT(VOCAB, HIDDEN, COND, BLOCKS, HEADS, dropout=0.0, positions=6)
    placed.load_state_dict(state | {"rotary_emb.inv_freq": placed.rotary_emb.inv_freq}, strict=False)
    masked = torch.full((1, 6), VOCAB - 1)
    out = blind(masked, torch.zeros(1))
    assert torch.allclose(out[0, 0], out[0, 5], atol=1e-5)  # every token masked: one prediction for every position
    assert torch.equal(placed(masked, torch.zeros(1)), out)  # zero-initialised: the same function
    with torch.no_grad():
        placed.pos_embed.normal_()
    out = placed(masked, torch.zeros(1))
    assert not torch.allclose(out[0, 0], out[0, 5], atol=1e-4)
    with pytest.raises(ValueError, match="7 tokens but positions=6"):
        placed(torch.full((1, 7), VOCAB - 1), torch.zeros(1))


def test_drakes_cnn_has_its_parameter_names():
    net = DNAConv(VOCAB, hidden_dim=16, num_cnn_stacks=1)
    assert [(k, tuple(p.shape)) for k, p in net.named_parameters()] == list(cnn_layout().items())
    assert net(torch.randint(0, VOCAB, (2, 30)), torch.zeros(2)).shape == (2, 30, VOCAB)


@pytest.mark.parametrize("ema", [True, False])
def test_lightning_ckpt_loads_ema_or_plain_weights(tmp_path, ema):
    state, ema_state = lightning_ckpt(tmp_path / "last.ckpt", "dit", dit_layout(), DIT_MODEL)
    model = from_mdlm(tmp_path / "last.ckpt", ema=ema, num_steps=4, device="cpu")
    expected = ema_state if ema else state
    loaded = model.denoiser.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())
    assert (model.vocab, model.length, model.mask_id, model.eps) == (list("ACGT"), 200, 4, 1e-3)


def test_the_schedule_eps_is_mdlms_1e_3_whatever_the_training_times_were(tmp_path):
    lightning_ckpt(tmp_path / "last.ckpt", "cnn", cnn_layout(), CNN_MODEL, sampling_eps=0.05)
    model = from_mdlm(tmp_path / "last.ckpt", num_steps=4, device="cpu")
    t = torch.tensor([0.0, 0.3, 1.0])
    assert model.eps == 1e-3  # MDLM's LogLinearNoise(): sigma(t) = -log1p(-(1 - 1e-3) t), alpha = exp(-sigma)
    torch.testing.assert_close(torch.tensor([model.alpha(v) for v in t.tolist()]),
                               torch.exp(torch.log1p(-(1 - 1e-3) * t)))


@pytest.mark.parametrize("backbone", ["dit", "cnn"])
@pytest.mark.parametrize("source", ["pretrained", "yaml"])
def test_a_bare_state_dict_gives_the_logits_of_the_same_weights_wrapped_by_hand(tmp_path, caplog, backbone, source):
    layout, model = (dit_layout(), DIT_MODEL) if backbone == "dit" else (cnn_layout(), CNN_MODEL)
    lightning_ckpt(tmp_path / "pretrained.ckpt", backbone, layout, model)
    tuned = {f"backbone.{k}": v for k, v in (random_state(layout, 7) | buffers(backbone)).items()}
    torch.save(tuned, tmp_path / "finetuned.ckpt")  # DRAKES: torch.save(new_model.state_dict(), path)
    torch.save({"state_dict": tuned, "hyper_parameters": {"config": mdlm_config(backbone, model)}},
               tmp_path / "wrapped.ckpt")
    OmegaConf.save(mdlm_config(backbone, model), tmp_path / "architecture.yaml")
    architecture = tmp_path / ("pretrained.ckpt" if source == "pretrained" else "architecture.yaml")
    with caplog.at_level(logging.INFO, logger="svdd"):
        flat = from_mdlm(tmp_path / "finetuned.ckpt", architecture=architecture, num_steps=4, device="cpu")  # ema=True
    assert caplog.messages == [f"model.path={tmp_path / 'finetuned.ckpt'}: its weights (a bare state dict: no EMA), "
                               f"the architecture of {architecture}"]
    by_hand = from_mdlm(tmp_path / "wrapped.ckpt", num_steps=4, device="cpu")
    x = torch.randint(0, VOCAB, (3, 200), generator=torch.Generator().manual_seed(0))
    for t in (1.0, 0.5):
        assert torch.equal(flat.predict(x, t).output, by_hand.predict(x, t).output)
    assert (flat.length, flat.eps) == (by_hand.length, by_hand.eps) == (200, 1e-3)


def test_a_bare_state_dict_without_its_architecture_says_where_to_get_it(tmp_path):
    torch.save({f"backbone.{k}": v for k, v in random_state(cnn_layout(), 7).items()}, tmp_path / "finetuned.ckpt")
    with pytest.raises(UserError, match=r"holds weights only \(a bare state dict, as DRAKES' finetuned.ckpt\): set "
                                        r"model.architecture to the Lightning .ckpt it was fine-tuned from"):
        from_mdlm(tmp_path / "finetuned.ckpt", device="cpu")
    with pytest.raises(UserError, match="model.architecture=.*nothing.yaml not found"):
        from_mdlm(tmp_path / "finetuned.ckpt", architecture=tmp_path / "nothing.yaml", device="cpu")


@pytest.mark.parametrize(("ema", "message"), [(True, "its EMA weights (model.ema=false loads the plain ones)"),
                                              (False, "its plain weights (model.ema=false)")])
def test_the_loading_message_says_which_weights_were_used(tmp_path, caplog, ema, message):
    lightning_ckpt(tmp_path / "last.ckpt", "cnn", cnn_layout(), CNN_MODEL)
    with caplog.at_level(logging.INFO, logger="svdd"):
        from_mdlm(tmp_path / "last.ckpt", ema=ema, num_steps=4, device="cpu")
    assert caplog.messages == [f"model.path={tmp_path / 'last.ckpt'}: {message}"]


def test_hf_folder_loads(tmp_path):
    state = random_state(dit_layout(), 2) | buffers("dit")
    save_file({f"backbone.{k}": v for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "mdlm", "vocab_size": VOCAB, "model_length": 32, "hidden_dim": HIDDEN, "cond_dim": COND,
        "n_blocks": BLOCKS, "n_heads": HEADS, "dropout": 0.1, "time_conditioning": True, "return_dict": False}))
    model = from_mdlm(tmp_path, num_steps=4, device="cpu")
    assert model.length == 32 and model.denoiser.time_conditioning
    assert torch.equal(model.denoiser.state_dict()["blocks.1.attn_qkv.weight"], state["blocks.1.attn_qkv.weight"])
    x = torch.full((2, 32), model.mask_id)
    pred = model.predict(x, 1.0)
    assert pred.output.shape == (2, 32, VOCAB) and torch.all(pred.output[..., model.mask_id] == -math.inf)


def test_mask_elsewhere_is_moved_last():
    torch.manual_seed(0)
    net = DNAConv(VOCAB, hidden_dim=16, num_cnn_stacks=1).eval()
    wrapped = MaskLast(net, mask_index=0)  # checkpoint tokens: 0 = mask, 1..4 = ACGT
    ours = torch.tensor([[4, 0, 1, 2, 3]])  # mask, A, C, G, T in MaskedDiffusion's ids
    theirs = torch.tensor([[0, 1, 2, 3, 4]])
    out, ref = wrapped(ours, torch.zeros(1)), net(theirs, torch.zeros(1))
    assert torch.allclose(out, ref[..., [1, 2, 3, 4, 0]])


def test_vocab_mismatch_is_a_user_error(tmp_path):
    lightning_ckpt(tmp_path / "m.ckpt", "dit", dit_layout(), DIT_MODEL)
    with pytest.raises(UserError, match="model.vocab"):
        from_mdlm(tmp_path / "m.ckpt", vocab="ACGU+", device="cpu")


def test_folder_naming_its_backbone_by_target_loads(tmp_path):
    net = DIT(5, HIDDEN, COND, 1, HEADS, dropout=0.0)
    backbone = {"_target_": "svdd_cli.models.dit.DIT", "vocab_size": 5, "hidden_size": HIDDEN, "cond_dim": COND,
                "n_blocks": 1, "n_heads": HEADS, "dropout": 0.0, "time_conditioning": False}
    save_folder(tmp_path, {"vocab": list("ACGT"), "length": 12, "eps": 1e-3, "backbone": backbone}, net)
    model = MaskedDiffusion.from_checkpoint(tmp_path, num_steps=3, device="cpu")
    assert isinstance(model.denoiser, DIT)
    gen = torch.Generator().manual_seed(0)
    assert model.nelbo(torch.randint(0, 4, (2, 12)), torch.tensor([0.3, 0.9]), gen).shape == (2,)


TINY = ["domain=dna", "model=mdlm", "reward=enhancer", "sampler=svdd", "sampler.num_candidates=2", "model.num_steps=3",
        "num_samples=2", "batch_size=2", "reference_samples=0", "likelihood_draws=1", "device=cpu"]


@pytest.mark.parametrize("backbone", ["dit", "cnn"])
def test_svdd_runs_on_an_mdlm_checkpoint_through_the_cli(tmp_path, backbone):
    layout, model = (dit_layout(), DIT_MODEL) if backbone == "dit" else (cnn_layout(), CNN_MODEL)
    lightning_ckpt(tmp_path / "pretrained.ckpt", backbone, layout, model)
    kernel = "random_order" if backbone == "dit" else "mdlm"
    result = svdd("run", *TINY, f"model.path={tmp_path / 'pretrained.ckpt'}", f"model.kernel={kernel}",
                  f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = (tmp_path / "run" / "samples.csv").read_text().splitlines()
    assert len(rows) == 3 and all(len(r.split(",")[1]) == 200 and set(r.split(",")[1]) <= set("ACGT") for r in rows[1:])
    assert summary["nfe_per_sample"] >= 3  # at least one network evaluation per reverse step


def test_missing_checkpoint_is_one_line(tmp_path):
    result = svdd("run", *TINY, f"model.path={tmp_path / 'nope.ckpt'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2 and "model.path" in result.stderr


def test_drakes_fine_tuned_layout_runs_through_the_cli_given_its_architecture(tmp_path):
    lightning_ckpt(tmp_path / "pretrained.ckpt", "cnn", cnn_layout(), CNN_MODEL)
    torch.save({f"backbone.{k}": v for k, v in random_state(cnn_layout(), 7).items()}, tmp_path / "finetuned.ckpt")
    flat = [*TINY, f"model.path={tmp_path / 'finetuned.ckpt'}"]
    refused = svdd("run", *flat, f"hydra.run.dir={tmp_path / 'refused'}")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1 and "set model.architecture" in lines[0], refused.stderr
    result = svdd("run", *flat, f"model.architecture={tmp_path / 'pretrained.ckpt'}",
                  f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    assert "its weights (a bare state dict: no EMA), the architecture of" in result.stdout + result.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "finished"
