"""MOSES metrics (svdd_cli.science.moses) on molecules whose answers are known, and their wiring into the
molecule domain's naturalness."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from svdd_cli.assets import asset_root
from svdd_cli.domains.molecule.domain import MoleculeDomain
from svdd_cli.science import moses

REFERENCE = asset_root() / "checkpoints" / "molecule_moses"
FILTERS = REFERENCE / "moses_filters.smarts"
DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "Cc1ccc(NC(=O)c2ccccc2)cc1", "O=C(O)c1ccccc1",
         "CCOC(=O)c1ccc(N)cc1", "Clc1ccc(Cc2ccccn2)cc1"]


def test_filters_follow_moses_rules():
    mol = moses.mols
    assert moses.passes_filters(mol(["Cc1ccc(NC(=O)c2ccccc2)cc1"])[0], FILTERS)
    assert not moses.passes_filters(mol(["C1CCCCCCC1"])[0], FILTERS)  # ring of 8 atoms
    assert not moses.passes_filters(mol(["C[N+](C)(C)Cc1ccccc1"])[0], FILTERS)  # a charge
    assert not moses.passes_filters(mol(["Ic1ccccc1"])[0], FILTERS)  # iodine is not allowed
    assert not moses.passes_filters(mol(["O=C1C=CC(=O)C=C1"])[0], FILTERS)  # a quinone: PAINS / MCF


def test_ring_statistics_and_uniqueness():
    assert moses.ring_stats(moses.mols(["C1CCCCCC1"])[0]) == (True, False)
    assert moses.ring_stats(moses.mols(["c1ccccc1CC1CC1"])[0]) == (False, True)
    assert moses.unique_at(["CCO", "OCC", "CCN", ""], 4) == pytest.approx(2 / 3)
    assert moses.validity(["CCO", "", "C1CC"]) == pytest.approx(1 / 3)


def test_a_set_matches_itself():
    ref = moses.reference_stats(DRUGS)
    out = moses.moses_metrics(DRUGS, ref, FILTERS)
    assert out["snn"] == pytest.approx(1.0) and out["frag"] == pytest.approx(1.0) and out["scaf"] == pytest.approx(1.0)
    assert out["valid"] == 1.0 and out["unique@1k"] == 1.0 and 0.5 < out["intdiv"] < 1.0
    same = moses.moses_metrics(["CCO"] * 4, moses.reference_stats(["c1ccccc1"]), FILTERS)
    assert same["intdiv"] == pytest.approx(0.0) and same["snn"] < 0.2


def test_domain_naturalness_carries_moses_metrics(tmp_path: Path):
    domain = MoleculeDomain(reference=REFERENCE, fcd_min_samples=4)
    columns = domain.columns([], DRUGS + [""], tmp_path)
    rows = [{k: v[i] for k, v in columns.items()} for i in range(len(DRUGS) + 1)]
    out = domain.metrics(rows)
    assert out["validity"] == pytest.approx(6 / 7) and out["filters"] == 1.0
    assert out["aromatic_ring_fraction"] == 1.0 and out["ring7_fraction"] == 0.0
    assert 0.2 < out["snn_test2k"] < 1.0 and math.isfinite(out["fcd_test"]) and out["fcd_test"] > 1.0
    assert "fcd_test" not in MoleculeDomain(reference=REFERENCE).metrics(rows)  # below fcd_min_samples


def test_designs_are_compared_with_real_moses_subsets_of_their_size(tmp_path: Path):
    from svdd_cli.naturalness.warnings import outside

    domain = MoleculeDomain(reference=REFERENCE)
    rings = ["C1CCCCCC1CCO", "CC1CCCCCCC1N", "OC1CCCCCC1", "C1CCCCCCC1C(=O)O"] * 4  # 7- and 8-rings, no aromatics
    columns = domain.columns([], rings, tmp_path)
    out = domain.metrics([{k: v[i] for k, v in columns.items()} for i in range(len(rings))])
    assert out["real_n"] == 16 and out["real"]["filters"] == 1.0 and out["real"]["ring7_fraction"] < 0.1
    assert out["real_range"]["ring7_fraction"][0] is None and out["real_range"]["aromatic_ring_fraction"][1] is None
    flagged = {line.split()[0] for line in outside(out)}
    assert {"filters", "ring7_fraction", "aromatic_ring_fraction"} <= flagged
    drugs = domain.columns([], DRUGS, tmp_path)
    real_like = domain.metrics([{k: v[i] for k, v in drugs.items()} for i in range(len(DRUGS))])
    assert "ring7_fraction" not in {line.split()[0] for line in outside(real_like)}
