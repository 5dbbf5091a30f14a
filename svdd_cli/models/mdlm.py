"""Checkpoints written by the MDLM code base (Sahoo et al. 2024; DRAKES' and SVDD's DNA models) as a MaskedDiffusion.

Three layouts load:
- a Lightning `.ckpt` file: `state_dict` with `backbone.`-prefixed weights, `hyper_parameters.config`
  (MDLM's Hydra config: `backbone` dit | cnn, `model.*`, `time_conditioning`, `parameterization`) and, when
  trained with EMA, `ema.shadow_params`: one tensor per trainable parameter of the backbone, in
  `named_parameters()` order (used by default: `ema=True`);
- a bare state dict `{"backbone.*": tensor}` (DRAKES' finetuned.ckpt: `torch.save(model.state_dict())`), which
  has neither config nor EMA: its architecture comes from `architecture=` (the Lightning .ckpt it was fine-tuned
  from, or a YAML file of MDLM's config);
- a Hugging Face folder (kuleshov-group/mdlm-owt style): config.json (`model_type` mdlm, `hidden_dim`,
  `cond_dim`, `n_blocks`, `n_heads`, `dropout`, `time_conditioning`, `model_length`) + model.safetensors
  (or pytorch_model.bin) with `backbone.`-prefixed weights.
The "subs" parameterisation and the log-linear schedule are MaskedDiffusion's own, the schedule's eps MDLM's 1e-3.
The vocabulary (the tokenizer is not in the checkpoint), the sequence length and the mask index come from the
YAML, with the checkpoint's config as the fallback for the length; the mask defaults to the last index, as MDLM
appends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file
from torch import Tensor, nn

from svdd_cli.checkpoint import load_module, resolve_device, shipped
from svdd_cli.errors import UserError
from svdd_cli.models.dit import DIT
from svdd_cli.models.dnaconv import DNAConv
from svdd_cli.models.masked import MaskedDiffusion

log = logging.getLogger("svdd")


def build_dit(vocab_size: int, model: dict[str, Any], time_conditioning: bool) -> nn.Module:
    return DIT(vocab_size, hidden_size=model["hidden_size"], cond_dim=model["cond_dim"], n_blocks=model["n_blocks"],
               n_heads=model["n_heads"], dropout=model.get("dropout", 0.1), time_conditioning=time_conditioning)


def build_cnn(vocab_size: int, model: dict[str, Any], time_conditioning: bool) -> nn.Module:
    if model.get("cls_free_guidance"):
        raise UserError("MDLM checkpoint: classifier-free-guidance CNN backbones are not supported")
    return DNAConv(vocab_size, hidden_dim=model["hidden_dim"], num_cnn_stacks=model["num_cnn_stacks"],
                   dropout=model.get("dropout", 0.0), time_conditioning=time_conditioning)


BACKBONES: dict[str, Callable[[int, dict[str, Any], bool], nn.Module]] = {"dit": build_dit, "cnn": build_cnn}
EMBEDDINGS = {"dit": ("vocab_embed.embedding", 0), "cnn": ("linear.weight", 1)}  # where vocab_size shows


class MaskLast(nn.Module):
    """A backbone whose mask token sits at `mask_index`, seen with the mask moved to the last index:
    tokens (B, L) and logits (B, L, V) are permuted so that MaskedDiffusion's mask id V - 1 is the mask."""

    def __init__(self, backbone: nn.Module, mask_index: int) -> None:
        super().__init__()
        self.backbone, self.time_conditioning = backbone, backbone.time_conditioning
        size = backbone.vocab_size
        self.register_buffer("order", torch.tensor([i for i in range(size) if i != mask_index] + [mask_index]))

    def forward(self, tokens: Tensor, sigma: Tensor) -> Tensor:
        return self.backbone(self.order[tokens], sigma)[..., self.order]


def plain(config: Any) -> dict[str, Any]:
    """An OmegaConf or plain config as a dict, interpolations left unresolved."""
    return OmegaConf.to_container(config, resolve=False) if isinstance(config, DictConfig) else dict(config or {})


LOG_LINEAR_EPS = 1e-3  # MDLM's noise_schedule.LogLinearNoise(eps=1e-3): alpha_t = 1 - (1 - eps) t


def mdlm_settings(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """The settings of MDLM's Hydra config (`backbone`, `model`, `time_conditioning`, `parameterization`): backbone
    name, model hyper-parameters, time_conditioning, length and the log-linear schedule's eps, which MDLM and DRAKES
    fix at 1e-3 (noise_schedule.LogLinearNoise(); `training.sampling_eps` only bounds the training times)."""
    if config.get("parameterization", "subs") != "subs":
        raise UserError(f"model.path={path}: parameterization {config['parameterization']!r}; only MDLM's "
                        "'subs' (absorbing-state) models load")
    model = plain(config.get("model"))
    return {"backbone": config.get("backbone", "dit"), "model": model,
            "time_conditioning": bool(config.get("time_conditioning", False)), "length": model.get("length"),
            "eps": LOG_LINEAR_EPS}


def load_pickle(path: Path, what: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)  # a Lightning pickle: trusted files only
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        raise UserError(f"{what}={path}: not a readable MDLM checkpoint ({err})") from None


def lightning_config(ckpt: Any, path: Path, what: str = "model.path") -> dict[str, Any]:
    """MDLM's Hydra config inside a Lightning checkpoint (`hyper_parameters.config`)."""
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"{what}={path}: not a Lightning checkpoint (no state_dict)")
    return plain(plain(ckpt.get("hyper_parameters")).get("config"))


def is_flat(ckpt: Any) -> bool:
    """A bare state dict ({"backbone.*": tensor}), as DRAKES' fine-tuning saves its models: no config, no EMA."""
    return isinstance(ckpt, dict) and bool(ckpt) and all(isinstance(v, Tensor) for v in ckpt.values())


def architecture(source: str | Path | None, path: Path) -> dict[str, Any]:
    """MDLM's config for a flat weights file, from `source`: the Lightning .ckpt it was fine-tuned from, or a YAML
    (or JSON) file with MDLM's `backbone`, `time_conditioning` and `model` keys."""
    if source is None:
        raise UserError(f"model.path={path} holds weights only (a bare state dict, as DRAKES' finetuned.ckpt): set "
                        "model.architecture to the Lightning .ckpt it was fine-tuned from (DRAKES: pretrained.ckpt) "
                        "or to a YAML file with MDLM's backbone, time_conditioning and model keys")
    source = shipped(source)
    if not source.is_file():
        raise UserError(f"model.architecture={source} not found (a Lightning .ckpt or a YAML file)")
    if source.suffix in (".yaml", ".yml", ".json"):
        return plain(OmegaConf.load(source))
    return lightning_config(load_pickle(source, "model.architecture"), source, "model.architecture")


def read_checkpoint(path: Path, ema: bool, source: str | Path | None = None
                    ) -> tuple[dict[str, Any], dict[str, Tensor], list[Tensor] | None]:
    """(settings, backbone state dict without the `backbone.` prefix, EMA shadow params or None).

    settings: backbone name, model (its hyper-parameters), time_conditioning, length, eps, and `weights`: which
    weights load, for the loading message. `source`: the architecture of a flat weights file."""
    if path.is_dir():
        try:
            hf = json.loads((path / "config.json").read_text())
            weights = path / "model.safetensors"
            raw = load_file(str(weights)) if weights.exists() else torch.load(
                path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as err:
            raise UserError(f"MDLM folder {path}: needs config.json + model.safetensors ({err})") from None
        model = {"hidden_size": hf.get("hidden_dim", 768), "cond_dim": hf.get("cond_dim", 128),
                 "n_blocks": hf.get("n_blocks", 12), "n_heads": hf.get("n_heads", 12),
                 "dropout": hf.get("dropout", 0.1)}
        settings = {"backbone": "dit", "model": model, "time_conditioning": bool(hf.get("time_conditioning", False)),
                    "length": hf.get("model_length"), "eps": LOG_LINEAR_EPS, "weights": "its weights"}
        shadow = None
    else:
        ckpt = load_pickle(path, "model.path")
        if is_flat(ckpt):
            settings = mdlm_settings(architecture(source, path), path)
            settings["weights"] = f"its weights (a bare state dict: no EMA), the architecture of {shipped(source)}"
            raw, shadow = ckpt, None
        else:
            settings = mdlm_settings(lightning_config(ckpt, path), path)
            raw = ckpt["state_dict"]
            has_ema = isinstance(ckpt.get("ema"), dict)
            shadow = ckpt["ema"]["shadow_params"] if ema and has_ema else None
            settings["weights"] = ("its EMA weights (model.ema=false loads the plain ones)" if shadow is not None
                                   else "its plain weights (model.ema=false)" if has_ema
                                   else "its weights (the file has no EMA)")
    state = {k.removeprefix("backbone."): v for k, v in raw.items() if k.startswith("backbone.")}
    if settings["backbone"] not in BACKBONES:
        raise UserError(f"model.path={path}: backbone {settings['backbone']!r} is not one of {sorted(BACKBONES)}")
    return settings, state, shadow


def from_mdlm(path: str | Path, vocab: str | Sequence[str] = "ACGT", length: int | None = None,
              mask_index: int | None = None, ema: bool = True, num_steps: int = 128, device: str = "auto",
              detokenize: Callable[[str], Any] | None = None, kernel: str = "mdlm",
              top_p: float = 1.0, architecture: str | Path | None = None) -> MaskedDiffusion:
    """A MaskedDiffusion around an MDLM checkpoint (file or folder; see the module docstring).

    vocab: the tokens 0..V-1 in the checkpoint's order, mask excluded (a str = one-letter tokens);
    length: sequence length (default: the checkpoint config's model length); mask_index: the checkpoint's
    mask id (default: V, the last); ema: use the EMA weights when the checkpoint has them; kernel, top_p:
    MaskedDiffusion's; architecture: for a bare state dict (DRAKES' finetuned.ckpt), the Lightning .ckpt it was
    fine-tuned from or a YAML file of MDLM's config (ignored for checkpoints that carry their config)."""
    path = shipped(path)
    if not path.exists():
        raise UserError(f"model.path={path} not found (a Lightning .ckpt file or a Hugging Face folder)")
    if num_steps < 1:
        raise UserError(f"model.num_steps={num_steps} must be >= 1")
    settings, state, shadow = read_checkpoint(path, ema, architecture)
    key, axis = EMBEDDINGS[settings["backbone"]]
    if key not in state:
        raise UserError(f"model.path={path}: no backbone.{key} among its weights (not a {settings['backbone']} model)")
    size, tokens = state[key].shape[axis], list(vocab)
    if size != len(tokens) + 1:
        raise UserError(f"model.path={path}: the network has {size} tokens (mask included) but model.vocab has "
                        f"{len(tokens)}; set model.vocab to its {size - 1} tokens")
    backbone = BACKBONES[settings["backbone"]](size, settings["model"], settings["time_conditioning"])
    if shadow is not None:
        names = [name for name, p in backbone.named_parameters() if p.requires_grad]
        if len(names) != len(shadow):
            raise UserError(f"model.path={path}: {len(shadow)} EMA tensors for {len(names)} parameters "
                            "(model.ema=false loads the plain weights)")
        state = {**state, **dict(zip(names, shadow))}
    denoiser = load_module(backbone, state, path)
    mask = size - 1 if mask_index is None else mask_index
    if not 0 <= mask < size:
        raise UserError(f"model.mask_index={mask_index} is outside 0..{size - 1}")
    if mask != size - 1:
        denoiser = MaskLast(denoiser, mask)
    length = length or settings["length"]
    if not length:
        raise UserError(f"model.path={path}: its config gives no sequence length; set model.length")
    log.info("model.path=%s: %s", path, settings["weights"])
    return MaskedDiffusion(denoiser.eval(), tokens, int(length), num_steps, settings["eps"], resolve_device(device),
                           detokenize, kernel=kernel, top_p=top_p)
