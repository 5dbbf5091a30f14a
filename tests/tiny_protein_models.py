"""A tiny randomly initialised ESM-2-style masked LM (EsmForMaskedLM + EsmTokenizer) saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import torch

ESM_TOKENS = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "<null_1>", "<mask>"]


def save_tiny_esm(folder: Path, positions: int = 130) -> Path:
    """ESM-2's vocabulary (33 tokens, <cls> ... <eos> around a sequence), 1 layer, hidden size 16."""
    import transformers
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(ESM_TOKENS) + "\n")
    tokenizer = EsmTokenizer(str(folder / "vocab.txt"))
    config = EsmConfig(vocab_size=len(ESM_TOKENS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, max_position_embeddings=positions, pad_token_id=tokenizer.pad_token_id,
                       mask_token_id=tokenizer.mask_token_id, position_embedding_type="rotary", token_dropout=True)
    torch.manual_seed(0)
    EsmForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
