"""A molecule model's tokens and SMILES: SELFIES token rows -> canonical SMILES (the model's detokenize) and back
(its tokenize, for refine's seed files), in the tokenization its checkpoint names."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

import selfies as sf

from svdd_cli.errors import UserError
from svdd_cli.science.chem import canonical_smiles
from svdd_cli.science.selfies_tokens import FRAGMENTS, TOKENIZERS, scheme_tokens

PAD = "[nop]"  # SELFIES no-operation symbol: pads rows to a fixed length, skipped by the decoder


@lru_cache(maxsize=1 << 17)  # a search decodes the same token rows again and again
def selfies_to_smiles(selfies: str) -> str:
    """Joined SELFIES tokens -> canonical SMILES; '' when it decodes to no molecule (e.g. a leftover mask)."""
    try:
        return canonical_smiles(sf.decoder(selfies))
    except sf.DecoderError:
        return ""


@cache
def checkpoint_tokens(folder: str) -> tuple[str, tuple[str, ...]]:
    """(tokens scheme, vocabulary) of a molecule checkpoint folder's config.json ("selfies" when it names none)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise UserError(f"model.tokenize.checkpoint={folder}: no config.json there (a folder written by "
                        "scripts/train_mdlm.py --export)")
    config = json.loads(path.read_text())
    return config.get("tokens", "selfies"), tuple(config["vocab"])


def smiles_to_tokens(smiles: str, length: int, tokens: str | None = None,
                     checkpoint: str | Path | None = None) -> list[str]:
    """selfies_to_smiles' inverse: a SMILES -> its tokens padded with [nop] to `length`, in the `tokens` of the model
    (default: those its `checkpoint` folder's config.json names, else "selfies"; "ring-first" = grouped ring-first
    SELFIES; "+fragments" ones need the checkpoint's vocabulary: svdd_cli.science.selfies_tokens); ValueError
    when RDKit cannot parse it or it needs more than `length` tokens."""
    scheme, vocab = checkpoint_tokens(str(checkpoint)) if checkpoint is not None else ("selfies", ())
    scheme = tokens or scheme
    if scheme.removesuffix(FRAGMENTS) not in TOKENIZERS:
        raise UserError(f"model.tokenize.tokens={scheme!r} is not a molecule tokenization; use "
                        f"{' or '.join(TOKENIZERS)} (+ {FRAGMENTS} with model.tokenize.checkpoint)")
    if scheme.endswith(FRAGMENTS) and not vocab:
        raise UserError(f"model.tokenize.tokens={scheme!r} needs the model's vocabulary: set "
                        "model.tokenize.checkpoint to its folder")
    row = scheme_tokens(smiles, scheme, vocab)
    if len(row) > length:
        raise ValueError(f"{smiles[:40]!r} needs {len(row)} SELFIES tokens; the model's length is {length}")
    return row + [PAD] * (length - len(row))
