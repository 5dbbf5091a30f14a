"""Tiny randomly initialised image models built from configs (no download), saved as real folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DModel
from safetensors.torch import save_file

from svdd_cli.checkpoint import save_folder
from svdd_cli.science.fashion import CLASSES, FashionCNN, feature_stats


def tiny_unet(size: int = 8, channels: int = 1) -> UNet2DModel:
    torch.manual_seed(0)
    return UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)


def tiny_scheduler(**config) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", **config)


def save_tiny_ddpm(folder: Path, size: int = 8) -> Path:
    tiny_unet(size).save_pretrained(folder / "unet")
    tiny_scheduler().save_pretrained(folder / "scheduler")
    return folder


def save_tiny_classifier(folder: Path) -> Path:
    """A random FashionCNN checkpoint with test_features.safetensors from random images."""
    torch.manual_seed(0)
    network = {"channels": 4, "width": 8, "dropout": 0.0}
    net = FashionCNN(**network).eval()
    save_folder(folder, {"network": network, "classes": list(CLASSES), "size": 28}, net)
    with torch.no_grad():
        mu, cov = feature_stats(net.features(torch.rand(64, 1, 28, 28)))
    save_file({"mu": mu, "cov": cov}, str(folder / "test_features.safetensors"))
    return folder


def save_tiny_aesthetic(folder: Path, mlp_name: str = "mlp.pth") -> Path:
    """folder/clip (CLIPVisionModelWithProjection, 32x32 input, 16-d embeddings) and folder/<mlp_name>."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from svdd_cli.rewards.aesthetic import AestheticMLP

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=16)
    CLIPVisionModelWithProjection(config).save_pretrained(folder / "clip")
    state = AestheticMLP(16).state_dict()
    if mlp_name.endswith(".safetensors"):
        save_file(state, str(folder / mlp_name))
    else:
        torch.save(state, folder / mlp_name)
    return folder


def tiny_tokenizer_files(folder: Path) -> None:
    """A byte-level CLIP BPE vocabulary with no merges: every byte is a token (514 ids)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]  # GPT-2 byte map
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def save_tiny_sd(folder: Path) -> Path:
    """A StableDiffusionPipeline (16x16 RGB images, 8x8x4 latents) with its default PNDM scheduler."""
    import transformers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    transformers.logging.set_verbosity_error()  # notices about torchvision-less image processors
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16),
                                layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=4, attention_head_dim=4)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16), latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, sample_size=16)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=514, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, max_position_embeddings=77, bos_token_id=512,
                                        eos_token_id=513, pad_token_id=513))
    tiny_tokenizer_files(folder / "tok")
    tokenizer = CLIPTokenizer(str(folder / "tok" / "vocab.json"), str(folder / "tok" / "merges.txt"),
                              model_max_length=77)
    scheduler = PNDMScheduler(num_train_timesteps=100, beta_schedule="scaled_linear", skip_prk_steps=True,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder / "sd")
    return folder / "sd"


@contextmanager
def single_thread() -> Iterator[None]:
    """torch on one thread: on a busy 2-core machine more threads make tiny models ~40x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
