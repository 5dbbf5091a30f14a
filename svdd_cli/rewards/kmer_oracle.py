"""A HepG2-specificity oracle of another kind than the CNNs: logistic regression on k-mer and JASPAR motif counts.

Features of a 200-bp sequence: frequencies of every 1- to 4-mer (340) and the number of JASPAR sites of the
liver factors HNF4A, FOXA2, HNF1A, CEBPB and the controls CTCF, SP1 (6), standardised; score = the logit of
P(HepG2 | sequence) against GM12878 / K562 / hESCT0. Trained by scripts/train_kmer_oracle.py on the held-out
CNN's half of the training chromosomes (checkpoints/dna_kmer_oracle/MODEL_CARD.md). Used as a second evaluation:
agreement with the CNN oracles then means more than a shared architecture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from svdd_cli.checkpoint import load_folder
from svdd_cli.science.motifs import shared_scanner
from svdd_cli.science.sequence import kmer_counts, kmer_index

KS = (1, 2, 3, 4)


class KmerFeatures:
    """Sequences -> (B, 340 + n_motifs) features: k-mer frequencies (k = 1..4) and motif site counts."""

    def __init__(self, motifs: dict[str, str], release: str, relative: float) -> None:
        self.indices = {k: kmer_index("ACGT", k) for k in KS}
        self.scanner = shared_scanner(motifs, release, relative)  # the DNA naturalness's too

    def __call__(self, seqs: list[str]) -> Tensor:
        kmers = [np.concatenate([kmer_counts(s, self.indices[k], k) / max(len(s) - k + 1, 1) for k in KS])
                 for s in seqs]
        return torch.cat([torch.tensor(np.array(kmers), dtype=torch.float32), self.scanner.site_counts(seqs)], dim=1)


class KmerOracle:
    """HepG2 logit of a k-mer / motif logistic regression checkpoint (non-ACGT or wrong length: penalty)."""

    domains = ("dna",)

    def __init__(self, checkpoint: str | Path, penalty: float = -20.0) -> None:
        config, state = load_folder(checkpoint)
        self.features = KmerFeatures(config["motifs"], config["jaspar_release"], config["motif_relative_score"])
        self.mean, self.scale = state["mean"], state["scale"]
        self.weight, self.bias = state["weight"], state["bias"]
        self.length, self.penalty = config["length"], penalty

    def logits(self, features: Tensor) -> Tensor:
        """Raw features (B, D) -> logits (B,)."""
        return ((features - self.mean) / self.scale) @ self.weight + self.bias

    @torch.inference_mode()
    def __call__(self, samples: list[str]) -> Tensor:
        out = torch.full((len(samples),), self.penalty)
        ok = [i for i, s in enumerate(samples) if len(s) == self.length and not set(s) - set("ACGT")]
        if ok:
            out[ok] = self.logits(self.features([samples[i] for i in ok]))
        return out
