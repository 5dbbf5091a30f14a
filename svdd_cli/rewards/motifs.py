"""JASPAR motif reward: how well a DNA sequence carries binding sites of liver transcription factors.

Position-specific scoring matrices come from the JASPAR database shipped with pyjaspar, as
Biopython motifs (log-odds against a uniform background). A sequence is scanned on both strands;
its reward is the mean over motifs of the best site's score divided by that motif's best possible
score (1.0 = a perfect consensus site for every motif). Non-differentiable, no training.
"""

from __future__ import annotations

import torch
from pyjaspar import jaspardb
from torch import Tensor

from svdd_cli.errors import UserError
from svdd_cli.science.sequence import one_hot


class Motifs:
    """Mean relative best-site score over JASPAR motifs (by matrix id), both strands."""

    domains = ("dna",)

    def __init__(self, motifs: list[str], release: str = "JASPAR2024", pseudocounts: float = 0.5,
                 penalty: float = -1.0) -> None:
        db = jaspardb(release=release)
        self.names, self.filters, self.best = [], [], []
        for matrix_id in motifs:
            motif = db.fetch_motif_by_id(matrix_id)
            if motif is None:
                raise UserError(f"reward.motifs: {matrix_id} is not a matrix id of {release} "
                                "(see https://jaspar.elixir.no for ids such as MA0114.5)")
            pssm = motif.counts.normalize(pseudocounts=pseudocounts).log_odds()
            weight = torch.tensor([list(pssm[letter]) for letter in "ACGT"], dtype=torch.float32)  # (4, w)
            # Reverse complement of the motif: complement swaps A<->T, C<->G (rows reversed), positions reversed.
            self.filters.append(torch.stack([weight, weight.flip(0, 1)]))  # (2, 4, w)
            self.best.append(float(pssm.max))
            self.names.append(f"{motif.name} {matrix_id}")
        self.penalty = penalty

    def site_scores(self, x: Tensor) -> Tensor:
        """Best log-odds site score per motif, either strand: one-hot (B, 4, L) -> (B, n_motifs)."""
        return torch.stack([torch.nn.functional.conv1d(x, f).amax(dim=(1, 2)) for f in self.filters], dim=1)

    @torch.inference_mode()
    def __call__(self, samples: list[str]) -> Tensor:
        x, valid = one_hot(samples, "ACGT")
        out = torch.full((len(samples),), self.penalty)
        if valid.any():
            out[valid] = (self.site_scores(x[valid]) / torch.tensor(self.best)).mean(1)
        return out
