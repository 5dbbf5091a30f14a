"""Naturalness figures on tiny inputs with known answers, the summary's block and its warning lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from svdd_cli.domains.rna.naturalness import rna_figures
from svdd_cli.naturalness.reference import compare, subset_table
from svdd_cli.naturalness.warnings import applies, outside, warnings
from svdd_cli.rewards.kmer_oracle import KmerOracle
from svdd_cli.science import sequence as nat
from svdd_cli.science.motifs import MotifScanner
from tests.test_cli import TINY, svdd


def test_kmer_spectrum_and_correlation():
    s = "ACGTTGCAAACCGGTT"
    spectrum = nat.kmer_spectrum([s], "ACGT", 3)
    assert spectrum.shape == (64,) and spectrum.sum() == pytest.approx(1.0)
    assert nat.pearson(spectrum, spectrum) == pytest.approx(1.0)
    assert nat.total_variation(spectrum, spectrum) == 0.0
    assert nat.total_variation(nat.kmer_spectrum(["AAAA"], "ACGT"), nat.kmer_spectrum(["CCCC"], "ACGT")) == 1.0
    assert nat.kmer_spectrum(["AAAA"], "ACGT")[0] == 1.0  # AAA is the first 3-mer


def test_composition_repeats_and_diversity():
    assert nat.gc_content("GGCA") == 0.75
    assert nat.homopolymer_fraction(["AAAAAACG", "ACGTACGT"], 6) == pytest.approx(6 / 16)
    assert nat.homopolymer_fraction(["AAAAACGT"], 6) == 0.0
    assert nat.dust_score("AAAAAA") == pytest.approx(4 * 3 / 2 / 3)  # 4 x AAA
    assert nat.low_complexity_fraction(["A" * 80, "ACGTTGCAGTCAATGC" * 5]) == 0.5
    assert nat.hamming_diversity(["AAAA", "AAAA"]) == 0.0
    assert nat.hamming_diversity(["AAAA", "CCCC", "AACC"]) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert nat.distinct_kmer_fraction(["ACGTAC", "ACGTAC"], 6) == 0.5
    quantiles = list(np.linspace(0, 1, 101))
    assert nat.percentile(0.5, quantiles) == pytest.approx(50, abs=1) and nat.percentile(2.0, quantiles) == 100


def test_motif_hits_per_kb():
    scanner = MotifScanner({"HNF4A": "MA0114.5"})
    consensus = "".join("ACGT"[i] for i in np.argmax([[scanner.filters[0][0][b, j] for b in range(4)]
                                                       for j in range(scanner.filters[0].shape[-1])], axis=1))
    padded = "C" * 50 + consensus + "C" * (150 - len(consensus))
    assert scanner.hits_per_kb([padded])["HNF4A"] >= 5.0  # >= 1 site in 200 nt
    assert scanner.hits_per_kb(["C" * 200])["HNF4A"] == 0.0


def test_rna_figures_of_known_sets():
    seqs = ["GCCACCAUGGCC", "AAAGCCACCCCC"]  # -3: G (purine), C
    f = rna_figures(seqs, [-3.0, -1.0], nat.kmer_spectrum(seqs, "ACGU"), list(np.linspace(-10, 0, 101)))
    assert f["kmer3_distance"] == 0.0 and f["uaug_rate"] == 0.5
    assert f["kozak_purine_rate"] == 0.5
    assert f["mfe_median"] == -2.0 and f["more_stable_than_real"] == 0.0


def test_compare_puts_real_subsets_of_the_same_size_alongside():
    table = subset_table([[{"x": 1.0}, {"x": 3.0}], [{"x": 2.0}, {"x": 2.0}]], [8, 16])
    out = compare({"x": 0.5}, table, 8, ranged={"x": "both"})
    assert out["real"]["x"] == 2.0 and out["real_range"]["x"] == [pytest.approx(1.1), pytest.approx(2.9)]
    assert compare({"x": 0.5}, table, 8, ranged={"x": "low"})["real_range"]["x"] == [pytest.approx(1.1), None]
    assert compare({"x": 0.5}, table, 4, ranged={"x": "both"})["real"] == {}  # too few samples to compare


def test_warning_lines():
    quantiles = {"p1": -2.0, "p5": -1, "p50": 0, "p95": 1, "p99": 2}
    entry = {"checkpoint": "oracle", "data": "real test", "quantiles": quantiles}
    rows = [{"reward": 5.0, "evaluation_reward": 3.0}] * 3
    natural = {"gc_median": 0.3, "real_range": {"gc_median": [0.35, 0.6]}}
    lines = warnings(rows, {"reward": entry, "evaluation_reward": entry}, natural, 5.0, 0.0)
    assert len(lines) == 3 and "reward (oracle) is extrapolating" in lines[0]
    assert "gc_median 0.3 (real 0.35..0.6)" in lines[2] and "evaluation_reward median 3" in lines[2]
    assert warnings([{"reward": 0.5}], {"reward": entry}, {"real_range": {}}, 0.5, 0.0) == []
    no_baseline = warnings(rows, {}, natural, 5.0, None)  # reference_samples=0 and a computed reward (QED)
    assert no_baseline == ["the designs leave the real data's range (no pre-trained reference to compare the "
                           "reward with: reference_samples=0): gc_median 0.3 (real 0.35..0.6)"]
    unsteered = warnings(rows, {}, natural, 5.0, 0.0, steered=False)  # ancestral: no reward was bought
    assert unsteered == ["the pre-trained model's own samples leave the real data's range: "
                         "gc_median 0.3 (real 0.35..0.6)"]
    above = {"low_complexity_frac": 0.0, "real_range": {"low_complexity_frac": [None, 0.06]}}  # fewer repeats: fine
    assert warnings([{"reward": 0.5}], {"reward": entry}, above, 0.5, 0.0) == []
    assert applies(entry, None) and applies(entry, {"checkpoint": "/x/oracle"}) and not applies(entry, {})


def test_a_value_just_outside_its_range_never_prints_as_the_bound():
    natural = {"weight_mean": 295.04, "real_range": {"weight_mean": [295.4, 314.0]}}
    assert outside(natural) == ["weight_mean 295 (real 295.4..314)"]
    assert outside({"x": 0.12345, "real_range": {"x": [None, 0.1234]}}) == ["x 0.1235 (real <= 0.1234)"]


def test_a_shrunk_dna_run_carries_the_block_and_the_warnings(tmp_path):
    result = svdd("run", *TINY, "num_samples=8", "batch_size=8", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    natural = summary["naturalness"]
    assert -1 <= natural["kmer3_r_hepg2"] <= 1 and 0.8 < natural["real"]["kmer3_r_hepg2"] < 0.95  # n=8
    assert natural["real_range"]["gc_median"] == [0.355, 0.615] and "gc_p5" not in natural["real"]
    assert {"motif_HNF4A_per_kb", "motif_CTCF_per_kb", "hamming_diversity", "distinct6_frac"} <= set(natural)
    assert {f[0] for f in natural["headline"]} <= set(natural)  # what the report and trade-off plots lead with
    assert set(summary["evaluations"]) == {"evaluation_kmer"}  # evaluation_reward has its own entry
    assert summary["evaluation_reward"]["median"] is not None
    assert summary["real_quantiles"]["evaluation_kmer"]["checkpoint"] == "dna_kmer_oracle"
    assert summary["real_quantiles"]["reward"]["p99"] > summary["real_quantiles"]["reward"]["p1"]
    assert isinstance(summary["warnings"], list)
    other = svdd("run", *TINY, "num_samples=8", "batch_size=8", "reward=motifs", f"hydra.run.dir={tmp_path / 'm'}")
    assert other.returncode == 0, other.stderr
    motifs = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert "reward" not in motifs["real_quantiles"]  # the enhancer oracle's quantiles do not apply to motifs
    report = svdd("report", str(tmp_path), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "report.md").read_text()
    assert "3-mer r HepG2 (real)" in table and "kmer median" in table and "GC median (real p5..p95)" in table
    assert table.count("(0.355..0.615)") == 2  # both runs show their GC against real HepG2 sites' p5..p95


def test_report_columns_are_the_figures_each_runs_summary_declares():
    from svdd_cli.domains.dna.naturalness import HEADLINE as DNA
    from svdd_cli.domains.protein.domain import HEADLINE as PROTEIN
    from svdd_cli.report import natural_cell, natural_columns

    dna = {"naturalness": {"kmer3_r_hepg2": 0.9, "gc_percentile": 63.0, "gc_median": 0.5, "headline": DNA,
                           "real": {"kmer3_r_hepg2": 0.95, "gc_percentile": 50.0},
                           "real_range": {"gc_median": [0.355, 0.615]}}}
    protein = {"evaluations": {"evaluation_esm": {"median": 2.0}},
               "naturalness": {"composition_distance_to_heldout": 0.05, "headline": json.loads(json.dumps(PROTEIN)),
                               "real": {"composition_distance_to_heldout": 0.04}}}  # as read back from summary.json
    earlier = {"naturalness": {"kmer3_r_hepg2": 0.8}}  # written before domains declared figures: none shown
    columns = natural_columns([dna, protein, earlier])
    assert [f.key for f in columns] == ["evaluation_esm", "kmer3_r_hepg2", "gc_percentile", "gc_median",
                                        "composition_distance_to_heldout"]  # no run has diversity or identity
    assert [natural_cell(dna, f) for f in columns[1:]] == ["0.9 (0.95)", "63", "0.5 (0.355..0.615)", "-"]
    assert [natural_cell(protein, f) for f in columns] == ["2.000", "-", "-", "-", "0.05 (0.04)"]


def test_an_ancestral_run_says_the_prior_itself_leaves_the_real_range(tmp_path):
    # the shipped RNA prior's own samples (seed 0, 64) sit below real UTRs' Kozak -3 purine rate: no reward was bought
    result = svdd("run", "domain=rna", "reward=mfe", "sampler=ancestral", "num_samples=64", "reference_samples=8",
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    lines = json.loads((tmp_path / "summary.json").read_text())["warnings"]
    assert len(lines) == 1 and lines[0].startswith("the pre-trained model's own samples leave") and "kozak" in lines[0]


def test_dna_naturalness_shares_the_kmer_oracles_scanner_and_its_scans(monkeypatch):
    from svdd_cli.domains.dna.naturalness import DnaNaturalness

    root = Path(__file__).parent.parent / "checkpoints"
    oracle, natural = KmerOracle(root / "dna_kmer_oracle"), DnaNaturalness(root / "dna_mdlm" / "reference_stats.json")
    assert natural.scanner is oracle.features.scanner
    rng = np.random.default_rng(0)
    designs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(5)]
    oracle(designs)
    scanned = []
    monkeypatch.setattr(MotifScanner, "counts", lambda self, x: scanned.append(len(x)))
    hits = natural.scanner.hits_per_kb(designs)  # the oracle's counts: no scan
    monkeypatch.undo()
    ref = natural.reference
    fresh = MotifScanner(ref["motifs"], ref["jaspar_release"], ref["motif_relative_score"])  # remembers nothing
    assert scanned == [] and hits == fresh.hits_per_kb(designs)


def test_kmer_oracle_scores_and_penalties():
    oracle = KmerOracle(Path(__file__).parent.parent / "checkpoints" / "dna_kmer_oracle")
    assert oracle.features(["ACGT" * 50]).shape == (1, 340 + 6)
    scores = oracle(["ACGT" * 50, "ACGT" * 10, "N" * 200, "A" * 200])
    assert scores[1] == -20.0 and scores[2] == -20.0 and torch.isfinite(scores[[0, 3]]).all()
    mean_features = oracle.mean[None]  # standardised to zero: the logit is the bias alone
    assert oracle.logits(mean_features).item() == pytest.approx(oracle.bias.item(), abs=1e-5)
