"""The DNA rewards against their own reference implementations and real data."""

from __future__ import annotations

import csv
import random

import pytest
import torch
from Bio.Seq import Seq
from pyjaspar import jaspardb

from svdd_cli.assets import asset_root
from svdd_cli.errors import UserError
from svdd_cli.rewards.enhancer import Enhancer
from svdd_cli.rewards.motifs import Motifs

IDS = ["MA0114.5", "MA0046.3", "MA0047.4", "MA0466.4"]


def random_dna(n: int, length: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGT") for _ in range(length)) for _ in range(n)]


def test_motif_scan_matches_biopython_on_both_strands():
    reward = Motifs(IDS)
    db = jaspardb(release="JASPAR2024")
    seqs = random_dna(5)
    expected = []
    for s in seqs:
        row = []
        for matrix_id in IDS:
            pssm = db.fetch_motif_by_id(matrix_id).counts.normalize(pseudocounts=0.5).log_odds()
            best = max(pssm.calculate(Seq(s)).max(), pssm.reverse_complement().calculate(Seq(s)).max())
            row.append(best / pssm.max)
        expected.append(sum(row) / len(row))
    assert torch.allclose(reward(seqs), torch.tensor(expected), atol=1e-4)


def test_a_planted_consensus_site_scores_one_for_its_motif():
    reward = Motifs(["MA0047.4"])
    motif = jaspardb(release="JASPAR2024").fetch_motif_by_id("MA0047.4")
    consensus = str(motif.counts.normalize(pseudocounts=0.5).log_odds().consensus)
    background = random_dna(1, seed=3)[0]
    planted = background[:50] + str(Seq(consensus).reverse_complement()) + background[50 + len(consensus):]
    assert reward([planted]).item() == pytest.approx(1.0, abs=1e-5)
    assert reward([background]).item() < 1.0


def test_motifs_penalise_bad_sequences_and_reject_unknown_ids():
    assert Motifs(IDS, penalty=-1.0)(["ACGTN" * 40]).item() == -1.0
    with pytest.raises(UserError, match="MA9999.9"):
        Motifs(["MA9999.9"])


def test_enhancer_oracles_rank_real_hepg2_sites_above_others():
    """Held-out chr1 sequences (the oracles never saw them): HepG2 sites score higher on average."""
    path = asset_root() / "tests" / "data" / "dna_test_sample.tsv"
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    seqs = [r["sequence"] for r in rows]
    hepg2 = torch.tensor([r["cell_type"] == "HepG2" for r in rows])
    for name in ("dna_enhancer_oracle", "dna_enhancer_heldout"):
        logits = Enhancer(asset_root() / "checkpoints" / name, device="cpu")(seqs)
        assert logits[hepg2].mean() > logits[~hepg2].mean() + 1.0


def test_enhancer_penalises_wrong_length_and_letters():
    reward = Enhancer(asset_root() / "checkpoints" / "dna_enhancer_oracle", penalty=-20.0, device="cpu")
    out = reward(["ACGT" * 50, "ACGT" * 10, "ACGTN" * 40])
    assert out[0] > -20 and out[1] == -20 and out[2] == -20


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path / "nope")):
        Enhancer(tmp_path / "nope")
