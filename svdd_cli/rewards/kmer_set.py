"""Naturalness of a set of designs, as a term each design can be steered by: how much it moves its batch's k-mer
spectrum toward real ones.

A guided sampler drifts a whole set the same way, and the drift shows in the set's k-mer spectrum (the 3-mer
Pearson r of docs/naturalness.md) before it shows in any one 200-bp sequence, whose own spectrum is mostly
counting noise. For a batch of sequences with k-mer frequencies f_b (B, 4**k) and mean m, each sequence scores

    value_b = sum_q  grad_m r(m, q) . (f_b - m)

the first-order change of the batch's Pearson r to each real spectrum q (DNA: real HepG2 training sites, other
cells' training sites; RNA: real 5'UTR training windows) when the batch leans toward b. Zero on average over the
batch; positive for a sequence whose k-mers the batch lacks. It depends on the batch, so it is a naturalness term
only (`reward.natural.kmer_set=<weight>`): never a reward of its own, never cached; in svdd the batch is every
candidate of every output at one step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from svdd_cli.rewards.kmer_natural import kmer_frequencies, letter_codes, load_spectra


def pearson_gradient(m: np.ndarray, q: np.ndarray) -> np.ndarray:
    """d r(m, q) / d m for the Pearson correlation r of two (K,) vectors."""
    mc, qc = m - m.mean(), q - q.mean()
    norm_m, norm_q = np.linalg.norm(mc), np.linalg.norm(qc)
    if norm_m == 0 or norm_q == 0:
        return np.zeros_like(m)
    r = mc @ qc / (norm_m * norm_q)
    return qc / (norm_m * norm_q) - r * mc / norm_m ** 2


class KmerSetNaturalness:
    """Each sequence's pull on its batch's k-mer spectrum toward the real spectra (a sequence with other letters, or
    of another length than the batch's most common one: 0, no pull)."""

    set_level = True  # core.SetLevel: a naturalness term, never a reward

    def __init__(self, reference: str | Path, domain: str = "dna", k: int = 3,
                 sets: tuple[str, ...] | None = None) -> None:
        """sets: which of the reference's real sets to pull toward (None: all of them)."""
        data = load_spectra(reference, domain, "kmer_set", ("dna", "rna"))  # real sets: DNA's cells, RNA's UTRs
        self.alphabet = data["alphabet"]
        self.domains = (domain,)
        real = data.get("sets", {})
        sets = tuple(real) if sets is None else sets
        missing = [c for c in sets if str(k) not in real.get(c, {})]
        if missing or not sets:
            raise ValueError(f"reward.sets: {missing[0] if missing else 'none'} has no {k}-mer spectrum in "
                             f"{reference} (it has {', '.join(real) or 'none'}: scripts/kmer_spectra.py writes them)")
        self.k = k
        self.targets = [np.asarray(real[c][str(k)]) for c in sets]

    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) pulls; the batch's mean pull is 0."""
        out = torch.zeros(len(samples))
        valid = [i for i, s in enumerate(samples) if s and not set(s) - set(self.alphabet)]
        if not valid:
            return out
        lengths = [len(samples[i]) for i in valid]
        length = max(set(lengths), key=lengths.count)
        rows = [i for i in valid if len(samples[i]) == length >= self.k]
        if len(rows) < 2:
            return out
        f = kmer_frequencies(letter_codes([samples[i] for i in rows], self.alphabet), self.k, len(self.alphabet))
        m = f.mean(0)
        direction = sum(pearson_gradient(m, q) for q in self.targets)  # of the sum of the batch's r's
        out[rows] = torch.tensor((f - m) @ direction, dtype=torch.float32)
        return out
