"""Any Hugging Face masked language model (ESM-2, DPLM, nucleotide transformers, ...) as the denoiser of the masked
(absorbing-state) diffusion of svdd_cli.models.masked.

A masked LM predicts p(x_0 = v | x_t) at every masked position from the unmasked ones: exactly what the MDLM "subs"
kernel needs. `MaskedLMDenoiser` maps our tokens (the domain's letters 0..V-1 and the mask V) to the tokenizer's ids,
wraps each row in the tokenizer's special tokens (ESM: <cls> ... <eos>), runs the model, and returns its logits at
the sequence positions restricted to our letters (every other token of its vocabulary is masked out) plus a mask
column, which MaskedDiffusion never samples. The model sees no time: MDLM's optimal denoiser needs none.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from svdd_cli.checkpoint import load_pretrained, resolve_device
from svdd_cli.errors import UserError
from svdd_cli.models.masked import MaskedDiffusion


class MaskedLMDenoiser(nn.Module):
    """tokens (B, L) in 0..V (V = mask) -> logits (B, L, V+1) of a masked LM over our V letters (mask column 0)."""

    def __init__(self, lm: nn.Module, letter_ids: list[int], mask_id: int, prefix: list[int],
                 suffix: list[int]) -> None:
        super().__init__()
        self.lm = lm.eval()
        self.register_buffer("to_lm", torch.tensor([*letter_ids, mask_id]), persistent=False)  # (V+1,)
        self.register_buffer("prefix", torch.tensor(prefix, dtype=torch.long), persistent=False)
        self.register_buffer("suffix", torch.tensor(suffix, dtype=torch.long), persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        b, length = tokens.shape
        ids = torch.cat([self.prefix.expand(b, -1), self.to_lm[tokens], self.suffix.expand(b, -1)], dim=1)
        logits = self.lm(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # (B, P+L+S, V_lm)
        ours = logits[:, len(self.prefix):len(self.prefix) + length][..., self.to_lm[:-1]]  # (B, L, V)
        return torch.cat([ours, ours.new_zeros(b, length, 1)], dim=-1)


def special_tokens(tokenizer: Any, probe: int) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a sequence (ESM: [<cls>], [<eos>]), found by wrapping one token."""
    wrapped = list(tokenizer.build_inputs_with_special_tokens([probe]))
    at = wrapped.index(probe)
    return wrapped[:at], wrapped[at + 1:]


def from_pretrained(path: str | None, alphabet: str | None, length: int, num_steps: int = 100,
                    trust_remote_code: bool = False, device: str = "auto", kernel: str = "mdlm",
                    top_p: float = 1.0) -> MaskedDiffusion:
    """A MaskedDiffusion of `length` tokens over `alphabet` (one letter per token, e.g. the 20 amino acids) whose
    denoiser is the AutoModelForMaskedLM + AutoTokenizer of a local folder or hub id. One NFE = one forward pass
    of the LM on (B, length + specials) tokens. `trust_remote_code` runs code shipped with the model: only for
    models you trust. `kernel`: MaskedDiffusion's ("random_order" with num_steps = length is exact: the LM sees
    no time); `top_p`: its nucleus."""
    import transformers
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    transformers.logging.set_verbosity_error()  # loading bars, notices about unused weights
    transformers.logging.disable_progress_bar()
    if path is None:
        raise UserError("model.path is not set: give a Hugging Face masked LM folder (save_pretrained) or a hub id, "
                        "e.g. model.path=facebook/esm2_t6_8M_UR50D")
    if not alphabet:
        raise UserError("model.alphabet is not set (the domain names no alphabet): give the letters, e.g. "
                        "model.alphabet=ACGU")
    if num_steps < 1 or length < 1:
        raise UserError(f"model.num_steps={num_steps} and model.length={length} must be >= 1")
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, path, "model.path",
                                trust_remote_code=trust_remote_code)
    lm = load_pretrained(AutoModelForMaskedLM.from_pretrained, path, "model.path",
                         trust_remote_code=trust_remote_code)
    vocab = tokenizer.get_vocab()
    missing = [letter for letter in alphabet if letter not in vocab]
    if missing:
        raise UserError(f"model.path={path}: the tokenizer has no single-letter token for {', '.join(missing)} "
                        f"(the domain's alphabet {alphabet}): pick a model over these letters")
    if tokenizer.mask_token_id is None:
        raise UserError(f"model.path={path}: the tokenizer has no mask token: not a masked language model")
    letter_ids = [vocab[letter] for letter in alphabet]
    prefix, suffix = special_tokens(tokenizer, letter_ids[0])
    positions = getattr(lm.config, "max_position_embeddings", None)  # absent for models without position limits
    if positions is not None and length + len(prefix) + len(suffix) > positions:
        raise UserError(f"model.length={length} with {len(prefix) + len(suffix)} special tokens exceeds the model's "
                        f"{positions} positions: use model.length <= {positions - len(prefix) - len(suffix)}")
    denoiser = MaskedLMDenoiser(lm, letter_ids, tokenizer.mask_token_id, prefix, suffix)
    return MaskedDiffusion(denoiser, alphabet, length, num_steps, device=resolve_device(device), kernel=kernel,
                           top_p=top_p)
