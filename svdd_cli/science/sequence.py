"""Sequences: one-hot encoding, and figures of a set against real data (k-mer spectra, composition, repeats,
diversity).

Every figure takes plain strings and returns one number for the whole set, so the same code scores a
run's designs and random subsets of real held-out sequences (scripts/reference_stats.py), whose values
are shipped beside each checkpoint as the ceiling.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import torch
from torch import Tensor


def one_hot(sequences: list[str], alphabet: str) -> tuple[Tensor, Tensor]:
    """Strings -> one-hot (B, A, L) float32 and a (B,) bool mask of the rows that were valid.

    A row is valid when every letter is in `alphabet` and it has the batch's longest length;
    invalid rows are all-zero."""
    lookup = torch.full((256,), -1, dtype=torch.long)
    lookup[list(alphabet.encode())] = torch.arange(len(alphabet))
    length = max((len(s) for s in sequences), default=0)
    raw = torch.zeros(len(sequences), length, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in sequences])
    for i, s in enumerate(sequences):
        raw[i, : len(s)] = torch.tensor(list(s.encode()), dtype=torch.long)
    index = lookup[raw]
    valid = (index >= 0).all(1) & (lengths == length)
    index[~valid] = 0
    x = torch.nn.functional.one_hot(index, len(alphabet)).float().transpose(1, 2)
    x[~valid] = 0.0
    return x, valid


def kmer_index(alphabet: str, k: int) -> dict[str, int]:
    """k-mer -> column, lexicographic over `alphabet`."""
    return {"".join(p): i for i, p in enumerate(itertools.product(alphabet, repeat=k))}


def kmer_counts(seq: str, index: dict[str, int], k: int) -> np.ndarray:
    """(len(index),) counts of the k-mers of one sequence (k-mers with other letters are skipped)."""
    counts = np.zeros(len(index))
    for i in range(len(seq) - k + 1):
        j = index.get(seq[i:i + k])
        if j is not None:
            counts[j] += 1
    return counts


def kmer_spectrum(seqs: list[str], alphabet: str, k: int = 3) -> np.ndarray:
    """Normalised k-mer frequencies over all sequences, (|alphabet|^k,) in lexicographic order."""
    index = kmer_index(alphabet, k)
    counts = sum((kmer_counts(s, index, k) for s in seqs), np.zeros(len(index)))
    return counts / max(counts.sum(), 1)


def pearson(p: np.ndarray, q: np.ndarray) -> float:
    """Pearson correlation of two spectra (nan when one is constant)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.std() == 0 or q.std() == 0:
        return math.nan
    return float(np.corrcoef(p, q)[0, 1])


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance of two spectra: 0 = identical, 1 = disjoint."""
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def gc_content(seq: str) -> float:
    return (seq.count("G") + seq.count("C")) / max(len(seq), 1)


def gc_range(seq: str, window: int | None = None) -> tuple[float, float]:
    """(lowest, highest) GC fraction of seq's `window`-long windows; both the whole sequence's GC when window is
    None or not shorter than seq."""
    if window is None or window >= len(seq):
        return gc_content(seq), gc_content(seq)
    inside = np.cumsum([0] + [letter in "GC" for letter in seq])
    counts = inside[window:] - inside[:-window]
    return float(counts.min()) / window, float(counts.max()) / window


def longest_homopolymer(seq: str) -> int:
    """Length of the longest run of one repeated letter (0 for an empty sequence)."""
    return max((sum(1 for _ in run) for _, run in itertools.groupby(seq)), default=0)


DNA_COMPLEMENT, RNA_COMPLEMENT = str.maketrans("ACGT", "TGCA"), str.maketrans("ACGU", "UGCA")


def reverse_complement(seq: str) -> str:
    """The other strand, read 5' to 3' (RNA when seq holds a U; other letters are kept)."""
    return seq.translate(RNA_COMPLEMENT if "U" in seq else DNA_COMPLEMENT)[::-1]


def homopolymer_fraction(seqs: list[str], run: int = 6) -> float:
    """Fraction of all letters that sit in a run of >= `run` identical letters."""
    inside = total = 0
    for s in seqs:
        total += len(s)
        inside += sum(len(g) for g in ("".join(r) for _, r in itertools.groupby(s)) if len(g) >= run)
    return inside / max(total, 1)


def dust_score(window: str) -> float:
    """DUST score of a window (Morgulis et al. 2006): sum over triplets c (c - 1) / 2, over (l - 1), l = #triplets."""
    triplets = [window[i:i + 3] for i in range(len(window) - 2)]
    counts: dict[str, int] = {}
    for t in triplets:
        counts[t] = counts.get(t, 0) + 1
    return sum(c * (c - 1) / 2 for c in counts.values()) / max(len(triplets) - 1, 1)


def low_complexity_fraction(seqs: list[str], window: int = 64, threshold: float = 2.0, stride: int = 8) -> float:
    """Fraction of sequences with a low-complexity window: DUST score > threshold (5% of real HepG2 sites) in any
    `window`-long window (every `stride` letters)."""
    def low(s: str) -> bool:
        starts = range(0, max(len(s) - window, 0) + 1, stride)
        return any(dust_score(s[i:i + window]) > threshold for i in starts)
    return statistics.fmean(low(s) for s in seqs) if seqs else math.nan


def hamming_diversity(seqs: list[str]) -> float:
    """Mean pairwise Hamming distance over distinct pairs, divided by the length (equal-length, non-empty
    sequences; nan for fewer than two or other lengths)."""
    if len(seqs) < 2 or len({len(s) for s in seqs}) != 1 or not seqs[0]:
        return math.nan
    codes = np.array([np.frombuffer(s.encode(), np.uint8) for s in seqs])
    n, length = codes.shape
    total = sum(int((codes[i + 1:] != codes[i]).sum()) for i in range(n - 1))
    return total / (n * (n - 1) / 2) / length


def distinct_kmer_fraction(seqs: list[str], k: int = 6) -> float:
    """Distinct k-mers over all k-mer occurrences in the set (1 = no k-mer repeats anywhere)."""
    grams = [s[i:i + k] for s in seqs for i in range(len(s) - k + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan


def percentile(value: float, quantiles: list[float]) -> float:
    """Percentile (0..100) of `value` in a distribution given by its 101 percentiles (0, 1, ..., 100):
    mid-rank, so ties count half."""
    q = np.asarray(quantiles, float)
    return float(100 * (np.sum(q < value) + 0.5 * np.sum(q == value)) / len(q))
