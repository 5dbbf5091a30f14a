"""JASPAR motif content: PSSM hits per kb of DNA, both strands (pyjaspar ships JASPAR offline).

`shared_scanner` gives one scanner per JASPAR setting and process: the DNA k-mer oracle (an evaluation column,
scored per batch) and the DNA naturalness (per run) read the same matrices, and the naturalness reuses the
oracle's per-sequence counts instead of scanning the designs again.
"""

from __future__ import annotations

from functools import cache

import torch
from pyjaspar import jaspardb

from svdd_cli.science.sequence import one_hot

REMEMBER = 1 << 16  # sequences whose counts a shared scanner keeps


class MotifScanner:
    """Counts sites scoring >= `relative` of the way from a PSSM's worst to its best score (both strands); with
    `remember` > 0 it keeps the counts of up to that many sequences and does not scan them again."""

    def __init__(self, motifs: dict[str, str], release: str = "JASPAR2024", relative: float = 0.85,
                 pseudocounts: float = 0.5, remember: int = 0) -> None:
        db = jaspardb(release=release)
        self.names, self.filters, self.thresholds = [], [], []
        for name, matrix_id in motifs.items():
            pssm = db.fetch_motif_by_id(matrix_id).counts.normalize(pseudocounts=pseudocounts).log_odds()
            weight = torch.tensor([list(pssm[letter]) for letter in "ACGT"], dtype=torch.float32)  # (4, w)
            self.filters.append(torch.stack([weight, weight.flip(0, 1)]))  # forward and reverse complement
            self.thresholds.append(float(pssm.min) + relative * float(pssm.max - pssm.min))
            self.names.append(name)
        self.remember, self.seen = remember, {}  # sequence -> its (n_motifs,) counts

    @torch.inference_mode()
    def counts(self, x: torch.Tensor) -> torch.Tensor:
        """Sites per sequence and motif (either strand): one-hot (B, 4, L) -> (B, n_motifs) float."""
        return torch.stack([(torch.nn.functional.conv1d(x, f) >= thr).sum((1, 2)).float()
                            for f, thr in zip(self.filters, self.thresholds)], dim=1)

    @torch.inference_mode()
    def site_counts(self, seqs: list[str]) -> torch.Tensor:
        """counts() of equal-length ACGT strings (B,) -> (B, n_motifs); the ones not remembered are scanned as one
        batch (all of them the first time: the numbers of counts(one_hot(seqs)))."""
        out = torch.zeros(len(seqs), len(self.names))
        new = [i for i, s in enumerate(seqs) if s not in self.seen]
        if new:
            out[new] = self.counts(one_hot([seqs[i] for i in new], "ACGT")[0])
        old = [i for i, s in enumerate(seqs) if s in self.seen]
        if old:
            out[old] = torch.stack([self.seen[seqs[i]] for i in old])
        if self.remember and new:
            if len(self.seen) + len(new) > self.remember:
                self.seen.clear()
            self.seen.update((seqs[i], out[i].clone()) for i in new[:self.remember])
        return out

    def hits_per_kb(self, seqs: list[str]) -> dict[str, float]:
        """name -> sites (either strand) per 1,000 letters over all ACGT sequences of the set of the longest length."""
        length = max((len(s) for s in seqs), default=0)
        valid = [s for s in seqs if len(s) == length and not set(s) - set("ACGT")]
        kb = max(len(valid) * length, 1) / 1000
        return dict(zip(self.names, (self.site_counts(valid).sum(0) / kb).tolist()))


def shared_scanner(motifs: dict[str, str], release: str, relative: float) -> MotifScanner:
    """The process's one remembering MotifScanner of these JASPAR matrices, release and relative score."""
    return _shared(tuple(motifs.items()), release, relative)


@cache
def _shared(motifs: tuple[tuple[str, str], ...], release: str, relative: float) -> MotifScanner:
    return MotifScanner(dict(motifs), release, relative, remember=REMEMBER)
