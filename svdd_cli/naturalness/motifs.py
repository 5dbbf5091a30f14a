"""JASPAR motif content: PSSM hits per kb of DNA, both strands (pyjaspar ships JASPAR offline)."""

from __future__ import annotations

import torch
from pyjaspar import jaspardb

from svdd_cli.domains.sequence import one_hot


class MotifScanner:
    """Counts sites scoring >= `relative` of the way from a PSSM's worst to its best score (both strands)."""

    def __init__(self, motifs: dict[str, str], release: str = "JASPAR2024", relative: float = 0.85,
                 pseudocounts: float = 0.5) -> None:
        db = jaspardb(release=release)
        self.names, self.filters, self.thresholds = [], [], []
        for name, matrix_id in motifs.items():
            pssm = db.fetch_motif_by_id(matrix_id).counts.normalize(pseudocounts=pseudocounts).log_odds()
            weight = torch.tensor([list(pssm[letter]) for letter in "ACGT"], dtype=torch.float32)  # (4, w)
            self.filters.append(torch.stack([weight, weight.flip(0, 1)]))  # forward and reverse complement
            self.thresholds.append(float(pssm.min) + relative * float(pssm.max - pssm.min))
            self.names.append(name)

    @torch.inference_mode()
    def counts(self, x: torch.Tensor) -> torch.Tensor:
        """Sites per sequence and motif (either strand): one-hot (B, 4, L) -> (B, n_motifs) float."""
        return torch.stack([(torch.nn.functional.conv1d(x, f) >= thr).sum((1, 2)).float()
                            for f, thr in zip(self.filters, self.thresholds)], dim=1)

    @torch.inference_mode()
    def hits_per_kb(self, seqs: list[str]) -> dict[str, float]:
        """name -> sites (either strand) per 1,000 letters over all ACGT sequences of the set."""
        x, valid = one_hot(seqs, "ACGT")
        x = x[valid]
        kb = max(x.shape[0] * x.shape[-1], 1) / 1000
        return dict(zip(self.names, (self.counts(x).sum(0) / kb).tolist()))
