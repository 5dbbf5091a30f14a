"""Write tiny randomly initialised models in the layouts that `model=hf_masked_lm`, `model=diffusers_unet` and
`model=mdlm` read, so that the README's bring-your-own-model commands run offline as written (their samples are
noise: the weights are random; replace them with real models).

    python scripts/write_example_models.py --out examples
    svdd run domain=protein model=hf_masked_lm model.path=examples/esm_tiny model.length=50 reward=gravy
    svdd run domain=image model=diffusers_unet model.path=examples/unet_tiny reward=compressibility
    svdd run domain=image model=diffusers_unet model.path=examples/ddpm_pipeline_tiny reward=compressibility
    svdd run domain=dna model=mdlm model.path=examples/mdlm_tiny.ckpt reward=enhancer

Writes <out>/esm_tiny (EsmForMaskedLM + EsmTokenizer, ESM-2's 33-token vocabulary), <out>/unet_tiny (a plain
UNet2DModel.save_pretrained folder, 28x28 grey, no scheduler: the YAML's DDPM chain is used),
<out>/ddpm_pipeline_tiny (DDPMPipeline.save_pretrained: unet/ + scheduler/) and <out>/mdlm_tiny.ckpt (an MDLM
Lightning checkpoint of a tiny DiT over ACGT + mask, plain and EMA weights).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

ESM_TOKENS = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "<null_1>", "<mask>"]


def write_esm(folder: Path) -> None:
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(ESM_TOKENS) + "\n")
    tokenizer = EsmTokenizer(str(folder / "vocab.txt"))
    config = EsmConfig(vocab_size=len(ESM_TOKENS), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64, max_position_embeddings=1026, pad_token_id=tokenizer.pad_token_id,
                       mask_token_id=tokenizer.mask_token_id, position_embedding_type="rotary", token_dropout=True)
    EsmForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_unets(out: Path) -> None:
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    def unet() -> UNet2DModel:
        return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(16, 32),
                           layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8)

    unet().save_pretrained(out / "unet_tiny")
    DDPMPipeline(unet=unet(), scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(
        out / "ddpm_pipeline_tiny")


def write_mdlm(path: Path) -> None:
    """A Lightning checkpoint in the MDLM code base's layout: backbone.* weights, EMA shadow params, its config."""
    from svdd_cli.models.dit import DIT

    model = {"name": "tiny", "type": "ddit", "hidden_size": 32, "cond_dim": 16, "length": 200, "n_blocks": 2,
             "n_heads": 2, "scale_by_sigma": True, "dropout": 0.1}
    net = DIT(5, model["hidden_size"], model["cond_dim"], model["n_blocks"], model["n_heads"])
    config = {"backbone": "dit", "parameterization": "subs", "time_conditioning": False, "T": 0, "model": model,
              "training": {"ema": 0.9999, "sampling_eps": 1e-3}}
    torch.save({"epoch": 0, "global_step": 0, "state_dict": {f"backbone.{k}": v for k, v in net.state_dict().items()},
                "ema": {"decay": 0.9999, "num_updates": 0, "shadow_params": [p.detach() for p in net.parameters()]},
                "hyper_parameters": {"config": config}}, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("examples"))
    args = parser.parse_args()
    torch.manual_seed(0)
    write_esm(args.out / "esm_tiny")
    write_unets(args.out)
    write_mdlm(args.out / "mdlm_tiny.ckpt")
    print(f"wrote {args.out}/esm_tiny, {args.out}/unet_tiny, {args.out}/ddpm_pipeline_tiny, {args.out}/mdlm_tiny.ckpt")


if __name__ == "__main__":
    main()
