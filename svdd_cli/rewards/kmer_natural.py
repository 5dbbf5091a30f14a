"""How close a sequence's k-mer composition is to real data's: a naturalness objective that steers.

reward = -(1/|K|) sum_{k in K} sum_w |f_x(w) - f_real(w)|, f = k-mer frequencies (of the sequence; the mean over
real training sequences of the run's domain, scripts/kmer_spectra.py); 0 is the real spectrum itself, -2 the
farthest. K = 1, 2, 3 for DNA and RNA, 1, 2 for proteins. Real HepG2 sites score -0.32 (median). A guided sampler
that follows one oracle moves every design the same way (the enhancer CNN: toward A/T; ViennaRNA's MFE: toward
G/C); this term pulls each design's composition back, so the set's spectrum stays real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from svdd_cli.errors import UserError
from svdd_cli.naturalness.reference import load_reference

SEQUENCE_DOMAINS = ("dna", "rna", "protein")  # the domains with shipped spectra (checkpoints/<domain>_mdlm/)


def letter_codes(seqs: list[str], alphabet: str) -> np.ndarray:
    """Equal-length sequences -> (B, L) codes: a letter's index in `alphabet`, -1 for any other character."""
    table = np.full(256, -1)
    table[np.frombuffer(alphabet.encode(), np.uint8)] = np.arange(len(alphabet))
    text = "".join(seqs).encode("ascii", "replace")  # one byte a character: lengths stay aligned
    return table[np.frombuffer(text, np.uint8)].reshape(len(seqs), -1)


def load_spectra(reference: str | Path, domain: str, reward: str,
                 domains: tuple[str, ...] = SEQUENCE_DOMAINS) -> dict[str, Any]:
    """A scripts/kmer_spectra.py file of a domain the reward scores (UserError for another domain, or a missing
    file)."""
    if domain not in domains:
        scored = ", ".join(domains) if len(domains) > 2 else " and ".join(domains)
        raise UserError(f"reward={reward} scores {scored} sequences, not domain={domain}")
    return load_reference(reference, "reward.reference", "scripts/kmer_spectra.py")


def kmer_frequencies(codes: np.ndarray, k: int, size: int) -> np.ndarray:
    """(B, L) letter codes in [0, size) -> (B, size**k) k-mer frequencies per row."""
    n = codes.shape[1] - k + 1
    kmers = sum(codes[:, j:j + n] * size ** (k - 1 - j) for j in range(k))
    rows = np.repeat(np.arange(codes.shape[0]), n)
    counts = np.bincount(rows * size ** k + kmers.ravel(), minlength=codes.shape[0] * size ** k)
    return counts.reshape(codes.shape[0], size ** k) / n


class KmerNaturalness:
    """Minus the mean L1 distance of a sequence's k-mer frequencies to real data's (a sequence with other letters,
    or shorter than the longest k: penalty)."""

    def __init__(self, reference: str | Path, domain: str = "dna", penalty: float = -2.0) -> None:
        data = load_spectra(reference, domain, "kmer_natural")
        self.alphabet = data["alphabet"]
        self.domains = (domain,)
        self.spectra = {int(k): np.asarray(v) for k, v in data["spectra"].items()}
        self.penalty = penalty

    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) values in [-2, 0]; vectorised per sequence length."""
        out = torch.full((len(samples),), self.penalty)
        for length in {len(s) for s in samples if len(s) >= max(self.spectra)}:
            rows = [i for i, s in enumerate(samples) if len(s) == length]
            codes = letter_codes([samples[i] for i in rows], self.alphabet)
            ok = (codes >= 0).all(1)
            if not ok.any():
                continue
            dist = sum(np.abs(kmer_frequencies(codes[ok], k, len(self.alphabet)) - ref).sum(1)
                       for k, ref in self.spectra.items()) / len(self.spectra)
            out[[i for i, keep in zip(rows, ok) if keep]] = torch.tensor(-dist, dtype=torch.float32)
        return out
