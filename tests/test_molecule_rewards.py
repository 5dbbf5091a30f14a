"""Molecule rewards against RDKit's own values, penalties on bad input, and composites."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import QED, Crippen, RDConfig

from svdd_cli.errors import UserError
from svdd_cli.rewards.composite import Composite
from svdd_cli.rewards.logp import Logp
from svdd_cli.rewards.moses_filters import MosesFilters
from svdd_cli.rewards.qed import Qed
from svdd_cli.rewards.sa import Sa

sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
import sascorer  # noqa: E402

KNOWN = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C1CCCCCCCC1", "Clc1ccccc1-c1nc(-c2ccncc2)no1"]
BAD = ["", "C1CC", "not a molecule"]


def mols() -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in KNOWN]


def test_qed_matches_rdkit():
    expected = torch.tensor([QED.qed(m) for m in mols()])
    assert torch.allclose(Qed(workers=1)(KNOWN), expected, atol=1e-6)


def test_sa_is_the_normalised_rdkit_contrib_score():
    expected = torch.tensor([(10 - sascorer.calculateScore(m)) / 9 for m in mols()])
    out = Sa(workers=1)(KNOWN)
    assert torch.allclose(out, expected, atol=1e-6) and ((out > 0) & (out <= 1)).all()


def test_penalized_logp_subtracts_sa_and_large_rings():
    expected = [Crippen.MolLogP(m) - sascorer.calculateScore(m) for m in mols()]
    expected[2] -= 9 - 6  # cyclononane: one 9-membered ring
    assert torch.allclose(Logp(workers=1)(KNOWN), torch.tensor(expected), atol=1e-5)


@pytest.mark.parametrize("reward", [Qed(penalty=-1.0, workers=1), Sa(penalty=-1.0, workers=1),
                                    Logp(penalty=-1.0, workers=1)])
def test_bad_molecules_get_the_penalty_and_are_counted(reward):
    out = reward([KNOWN[0], *BAD, KNOWN[0]])
    assert out[0] == out[-1] > -1 and (out[1:-1] == -1.0).all()
    stats = reward.stats()  # unparsable SMILES share the cache key '' (no canonical form): one failure
    assert stats["failures"] == 1 and stats["scored"] == 2 and stats["cache_hit_rate"] == pytest.approx(3 / 5)


def test_parallel_scoring_equals_serial():
    many = KNOWN * 3 + BAD
    assert torch.equal(Qed(workers=2)(many), Qed(workers=1)(many))


def test_composite_is_the_weighted_sum_of_its_terms():
    reward = Composite({"qed": 1.0, "sa": 0.5}, options={"qed": {"workers": 1}, "sa": {"workers": 1}})
    assert reward.domains == ("molecule",)
    expected = Qed(workers=1)(KNOWN) + 0.5 * Sa(workers=1)(KNOWN)
    assert torch.allclose(reward(KNOWN), expected, atol=1e-6)
    assert reward.stats()["qed.scored"] == len(KNOWN)


FILTERS = Path(__file__).resolve().parent.parent / "checkpoints" / "molecule_moses" / "moses_filters.smarts"


def test_moses_filters_reward_is_one_for_real_like_molecules_only():
    reward = MosesFilters(FILTERS, penalty=-1.0, workers=1)
    # aspirin and caffeine pass; a 9-ring fails the filters, a 7-ring passes them but is not real-like; charges fail
    smiles = [*KNOWN[:3], "C1CCCCCC1", "C[N+](C)(C)C", *BAD]
    assert reward(smiles).tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0]
    assert reward.stats()["failures"] == 1  # cached by canonical SMILES: the unparsable ones share one key
    with pytest.raises(UserError, match="reward.filters: .*nowhere.smarts not found"):
        MosesFilters("nowhere.smarts")


def test_composite_works_in_other_domains_and_rejects_unknown_or_mixed_terms():
    assert Composite({"motifs": 2.0}).domains == ("dna",)
    with pytest.raises(UserError, match="available: .*qed"):
        Composite({"nope": 1.0})
    with pytest.raises(UserError, match="share no domain"):
        Composite({"qed": 1.0, "motifs": 1.0})


def test_composite_terms_are_replaced_by_the_documented_override():
    from svdd_cli.compose import compose_config

    cfg = compose_config(["domain=molecule", "reward=composite", "~reward.terms",
                          "+reward.terms={qed: 1.0, moses_filters: 0.3}"])
    assert dict(cfg.reward.terms) == {"qed": 1.0, "moses_filters": 0.3}
