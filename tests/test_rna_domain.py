"""The RNA domain: per-sample columns from ViennaRNA, FASTA, naturalness against held-out statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import RNA
from Bio import SeqIO

from svdd_cli.domains.rna.domain import RNADomain
from svdd_cli.domains.rna.naturalness import RnaNaturalness
from svdd_cli.errors import UserError
from svdd_cli.science.rna import ALPHABET, uaug_count
from svdd_cli.science.sequence import kmer_spectrum, total_variation
from tests.conftest import log_uniform, table_model

SEQS = ["GGGGAAAACCCC", "AUGAUGCCAUGC", "AAAAAAAAAAAA"]
REFERENCE = Path(__file__).parent.parent / "checkpoints" / "rna_mdlm" / "reference_stats.json"


def test_columns_come_from_vienna(tmp_path):
    cols = RNADomain().columns(["a", "b", "c", "d"], [*SEQS, "ACG?ACGUACGU"], tmp_path)
    assert cols["sequence"][:3] == SEQS
    assert cols["structure"][:3] == [RNA.fold(s)[0] for s in SEQS]
    assert cols["mfe"][:3] == pytest.approx([RNA.fold(s)[1] for s in SEQS], abs=1e-4)
    assert cols["gc"][0] == pytest.approx(8 / 12)
    assert cols["uaug_count"] == [0, 3, 0, 0]
    assert cols["structure"][3] == "" and math.isnan(cols["mfe"][3])  # a leftover mask is not folded


def test_kmer_helpers():
    assert uaug_count("AUGAUG") == 2 and uaug_count("AUAUG") == 1 and uaug_count("ACGU") == 0
    spectrum = kmer_spectrum(["AAAA"], ALPHABET, 3)
    assert spectrum.shape == (64,) and spectrum[0] == 1.0 and spectrum.sum() == pytest.approx(1.0)
    assert total_variation(spectrum, spectrum) == 0.0
    assert total_variation(spectrum, kmer_spectrum(["CCCC"], ALPHABET, 3)) == pytest.approx(1.0)


def test_metrics_against_real_windows_and_fasta(tmp_path):
    domain = RNADomain(naturalness=RnaNaturalness(REFERENCE))
    ids = [f"s{i}" for i in range(8)]
    seqs = SEQS * 2 + SEQS[:2]
    cols = domain.columns(ids, seqs, tmp_path)
    rows = [{"id": i, **{k: v[n] for k, v in cols.items()}, "reward": 1.0} for n, i in enumerate(ids)]
    metrics = domain.metrics(rows)
    assert 0 < metrics["kmer3_distance"] <= 1 and metrics["uaug_rate"] == pytest.approx(3 / 8)
    assert metrics["mfe_mean"] == pytest.approx(np.mean([RNA.fold(s)[1] for s in seqs]), abs=1e-4)
    assert metrics["kozak_purine_rate"] == pytest.approx(2 / 8)  # -3 letters C, U, A, C, U, A, C, U
    assert 0.7 < metrics["real"]["kozak_purine_rate"] < 0.95 and metrics["real_n"] == 8  # real test windows
    rows = rows[:3]
    domain.write_native(tmp_path, rows)
    assert [str(r.seq) for r in SeqIO.parse(tmp_path / "samples.fasta", "fasta")] == SEQS
    assert RNADomain().metrics([]) == {}


def test_reference_and_model_mistakes_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="nope.json"):
        RnaNaturalness(tmp_path / "nope.json")
    with pytest.raises(UserError, match="domain=rna expects"):
        RNADomain().check_model(table_model(log_uniform(4, 4), "ACGT", num_steps=2))
    RNADomain().check_model(table_model(log_uniform(4, 4), "ACGU", num_steps=2))
