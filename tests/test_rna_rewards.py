"""The ViennaRNA rewards (mfe, structure, translation) on hand-checked sequences against ViennaRNA itself."""

from __future__ import annotations

import random

import pytest
import RNA
import torch

from svdd_cli.errors import UserError
from svdd_cli.rewards.mfe import Mfe
from svdd_cli.rewards.structure import Structure
from svdd_cli.rewards.translation import Translation, terms, uorf_count

HAIRPIN = "GGGGAAAACCCC"  # 4 G-C pairs closing a GAAAAC tetraloop: ViennaRNA folds it to ((((....)))) at -5.4


def random_rna(n: int, length: int = 50, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGU") for _ in range(length)) for _ in range(n)]


def test_vienna_folds_the_hand_checked_hairpin():
    assert RNA.fold(HAIRPIN)[0] == "((((....))))"
    assert RNA.fold(HAIRPIN)[1] == pytest.approx(-5.4, abs=1e-4)
    assert RNA.fold("AAAAAAAAAAAA") == [".........." + "..", 0.0]


def test_mfe_matches_vienna_in_both_directions():
    seqs = [HAIRPIN, "AAAAAAAAAAAA", *random_rna(6)]
    expected = torch.tensor([RNA.fold(s)[1] for s in seqs])
    assert torch.allclose(Mfe("stable", workers=1)(seqs), -expected, atol=1e-4)
    assert torch.allclose(Mfe("open", workers=2)(seqs), expected, atol=1e-4)
    assert Mfe("stable", workers=1)([HAIRPIN]).item() == pytest.approx(5.4, abs=1e-4)


def test_mfe_penalises_non_rna_and_rejects_a_bad_direction():
    reward = Mfe("stable", penalty=-100.0, workers=1)
    assert reward(["ACGT" * 3, "ACG?UU", ""]).tolist() == [-100.0] * 3
    assert reward.stats()["failures"] == 3
    with pytest.raises(ValueError, match="direction='up'"):
        Mfe("up")


def test_structure_bp_distance_matches_vienna():
    assert Structure("((((....))))", length=12, workers=1)([HAIRPIN]).item() == 0.0
    assert Structure("............", length=12, workers=1)([HAIRPIN]).item() == -4.0
    target = "..((((((....))))))....((((((....))))))............"
    seqs = random_rna(5, seed=1)
    expected = [-RNA.bp_distance(RNA.fold(s)[0], target) for s in seqs]
    assert Structure(target, workers=1)(seqs).tolist() == expected
    assert Structure(target, penalty=-7.0, workers=1)(["ACGU" * 3, "T" * 50]).tolist() == [-7.0, -7.0]


def test_structure_ensemble_defect_matches_vienna():
    seqs = [HAIRPIN, "GGGAAAAUCCCA", "ACGUACGUACGU"]
    expected = []
    for s in seqs:
        fc = RNA.fold_compound(s)
        fc.pf()
        expected.append(-fc.ensemble_defect("((((....))))"))
    out = Structure("((((....))))", length=12, metric="ensemble_defect", workers=1)(seqs)
    assert torch.allclose(out, torch.tensor(expected), atol=1e-5)
    assert -0.2 < out[0] <= 0 and out[0] > out[2]


@pytest.mark.parametrize(("target", "message"), [
    ("((((....))))", "has 12 characters; the model makes sequences of 50 nt"),
    ("((((....))))" + "." * 37 + "x", "found 'x'"),
    ("((((....)))" + "." * 39, "'(' at position 1 is never closed"),
    (")(((....)))" + "." * 39, "')' at position 1 closes no '('"),
    ("(..)" + "." * 46, "encloses fewer than 3 bases"),
])
def test_bad_targets_are_one_line_user_errors(target, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        Structure(target, length=50)
    assert "\n" not in str(err.value)


def test_translation_terms_by_hand():
    cds = "AUGGUGAGCAAG"
    # uAUG at 2 with an in-frame UAA inside the UTR (a uORF); a second uAUG (out of frame) without a stop.
    utr = "CCAUGAAAUAAGCCAUGCCGCCACC"
    t = terms(utr, cds, start_upstream=18)
    assert t["uaug"] == 2 and t["uorf"] == 1 == uorf_count(utr)
    assert t["kozak_minus3"] == 1.0 and t["kozak_plus4"] == 1.0  # A at -3 ("ACC"), G at +4 ("AUGG")
    assert t["start_mfe"] == pytest.approx(RNA.fold(utr[-18:] + cds)[1], abs=1e-4)
    weights = {"uaug": -1.0, "uorf": -0.5, "kozak_minus3": 0.5, "kozak_plus4": 0.25, "start_mfe": 0.1}
    reward = Translation(**weights, cds=cds, start_upstream=18, workers=1)
    assert reward([utr]).item() == pytest.approx(sum(weights[k] * v for k, v in t.items()), abs=1e-4)
    assert reward([utr]).item() == pytest.approx(-2 - 0.5 + 0.5 + 0.25 + 0.1 * RNA.fold(utr[-18:] + cds)[1], abs=1e-4)


def test_translation_prefers_a_clean_open_kozak_utr():
    reward = Translation(workers=1)
    clean = "CAAACAAACAAACAAACAAACAAACAAACAAACAAACAAACAAAGCCACC"  # no AUG, A at -3, unstructured
    bad = "GGGCCCAUGUAAGGGCCCAUGGGGCCCUGAGGGCCCAUGCCCCGCCCUCU"  # uAUGs, uORFs, U at -3, structured
    assert reward([clean]).item() > reward([bad]).item() + 2
    assert reward(["ACGT" * 12, "AC"]).tolist() == [-100.0, -100.0]
    with pytest.raises(ValueError, match="cds"):
        Translation(cds="GGGAAA")
