"""A transparent heuristic score of how well a 5'UTR should support translation: NOT a measurement.

It adds up known 5'UTR determinants of ribosome load (Kozak 1986, 1987; Sample et al. 2019), each
with a weight set in configs/reward/translation.yaml, for a UTR placed right before a coding start
`cds` (default: the eGFP start of the Sample et al. reporter):
    uaug         x  number of upstream AUGs (each one can divert scanning ribosomes)
    uorf         x  number of uAUGs whose in-frame stop codon lies inside the UTR (upstream ORFs)
    kozak_minus3 x  [purine (A/G) at -3]
    kozak_plus4  x  [G at +4]  (fixed by `cds`, so a constant for one CDS)
    start_mfe    x  ViennaRNA MFE (kcal/mol, <= 0) of the last `start_upstream` nt of the UTR + `cds`:
                    structure around the start codon hinders start recognition, so with a positive
                    weight a more open start region scores higher.
Negative weights penalise, positive weights reward. With the shipped weights the best possible score is
kozak_minus3 + kozak_plus4 = 0.75 (no uAUG, purine at -3, start region unfolded): a guided sampler
can reach it. Folding runs through the shared process pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.rna import fold, is_rna, uaug_count

STOPS = ("UAA", "UAG", "UGA")


@dataclass(frozen=True)
class Weights:
    """One weight per term of `terms`."""

    uaug: float
    uorf: float
    kozak_minus3: float
    kozak_plus4: float
    start_mfe: float


def uorf_count(utr: str) -> int:
    """uAUGs followed by an in-frame stop codon that ends inside the UTR."""
    count = 0
    for i in range(len(utr) - 2):
        if utr.startswith("AUG", i):
            count += any(utr[j:j + 3] in STOPS for j in range(i + 3, len(utr) - 2, 3))
    return count


def terms(utr: str, cds: str, start_upstream: int) -> dict[str, float]:
    """The unweighted terms of the score for one ACGU UTR (raises on anything else)."""
    if not is_rna(utr) or len(utr) < 3:
        raise ValueError(f"not an ACGU UTR of >= 3 nt: {utr!r}")
    return {"uaug": uaug_count(utr), "uorf": uorf_count(utr), "kozak_minus3": float(utr[-3] in "AG"),
            "kozak_plus4": float(cds[3] == "G"), "start_mfe": fold(utr[-start_upstream:] + cds)[1]}


def score(utr: str, weights: Weights, cds: str, start_upstream: int) -> float:
    """Weighted sum of the terms."""
    return sum(getattr(weights, name) * value for name, value in terms(utr, cds, start_upstream).items())


class Translation(PooledReward):
    """Heuristic translation score of a 5'UTR; weights per term (see module docstring)."""

    domains = ("rna",)

    def __init__(self, uaug: float = -1.0, uorf: float = -0.5, kozak_minus3: float = 0.5, kozak_plus4: float = 0.25,
                 start_mfe: float = 0.1, cds: str = "AUGGUGAGCAAG", start_upstream: int = 18,
                 penalty: float = -100.0, workers: int = 0) -> None:
        cds = cds.upper().replace("T", "U")
        if not is_rna(cds) or not cds.startswith("AUG") or len(cds) < 4:
            raise ValueError(f"reward.cds={cds!r} must be an ACGU sequence starting with AUG, >= 4 nt")
        if start_upstream < 1:
            raise ValueError(f"reward.start_upstream={start_upstream} must be >= 1")
        weights = Weights(uaug, uorf, kozak_minus3, kozak_plus4, start_mfe)
        super().__init__(partial(score, weights=weights, cds=cds, start_upstream=start_upstream), penalty, workers)
