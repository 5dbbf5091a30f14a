"""Closeness to a target secondary structure (RNA inverse folding), scored with ViennaRNA.

metric=bp_distance: -(base-pair distance between the MFE structure and the target), in base pairs.
metric=ensemble_defect: -(ViennaRNA's normalised ensemble defect of the target), in [-1, 0]: the
expected fraction of nucleotides paired differently from the target in the Boltzmann ensemble.
0 is a perfect design for both. Folding runs through the shared process pool + cache.
"""

from __future__ import annotations

from functools import partial

import RNA

from svdd_cli.errors import UserError
from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.rna import fold, is_rna

MIN_HAIRPIN = 3  # unpaired bases a hairpin loop needs (ViennaRNA's TURN)


def check_target(target: str, length: int) -> str:
    """The target itself when it is a foldable dot-bracket of `length`; a one-line UserError otherwise."""
    bad = set(target) - set("().")
    if bad:
        raise UserError(f"reward.target: only '(', ')' and '.' are allowed, found {''.join(sorted(bad))!r}")
    if len(target) != length:
        raise UserError(f"reward.target has {len(target)} characters; the model makes sequences of {length} nt")
    stack: list[int] = []
    for j, c in enumerate(target):
        if c == "(":
            stack.append(j)
        elif c == ")":
            if not stack:
                raise UserError(f"reward.target: ')' at position {j + 1} closes no '('")
            i = stack.pop()
            if j - i - 1 < MIN_HAIRPIN:
                raise UserError(f"reward.target: the pair ({i + 1}, {j + 1}) encloses fewer than {MIN_HAIRPIN} "
                                "bases, which no RNA can fold")
    if stack:
        raise UserError(f"reward.target: '(' at position {stack[-1] + 1} is never closed")
    return target


def bp_distance(seq: str, target: str) -> float:
    """-(base-pair distance of seq's MFE structure to target); raises on a non-ACGU or wrong-length seq."""
    _check(seq, target)
    return -float(RNA.bp_distance(fold(seq)[0], target))


def ensemble_defect(seq: str, target: str) -> float:
    """-(normalised ensemble defect of target in seq's ensemble); raises on a bad seq."""
    _check(seq, target)
    fc = RNA.fold_compound(seq)
    _, mfe = fc.mfe()
    fc.exp_params_rescale(mfe)  # scale the partition function by the MFE so long sequences do not overflow
    fc.pf()
    return -float(fc.ensemble_defect(target))


def _check(seq: str, target: str) -> None:
    if not is_rna(seq) or len(seq) != len(target):
        raise ValueError(f"not an ACGU sequence of {len(target)} nt: {seq!r}")


METRICS = {"bp_distance": bp_distance, "ensemble_defect": ensemble_defect}


class Structure(PooledReward):
    """Negative distance of a sequence's fold to a target dot-bracket structure."""

    domains = ("rna",)

    def __init__(self, target: str, length: int = 50, metric: str = "bp_distance", penalty: float = -100.0,
                 workers: int = 0) -> None:
        if metric not in METRICS:
            raise ValueError(f"reward.metric={metric!r} must be one of {', '.join(METRICS)}")
        self.target = check_target(target, length)
        # a non-ACGU or wrong-length sample gets the penalty
        super().__init__(partial(METRICS[metric], target=self.target), penalty, workers)
