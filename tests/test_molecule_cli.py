"""`svdd run domain=molecule` end to end on the shipped SELFIES checkpoint, shrunk."""

from __future__ import annotations

import csv
import json

import pytest
from rdkit import Chem

from tests.test_cli import svdd

TINY = ["domain=molecule", "model.num_steps=4", "num_samples=5", "batch_size=3", "sampler.num_candidates=2",
        "reference_samples=4", "likelihood_draws=1", "device=cpu"]


def test_qed_run_writes_smiles_sdf_grid_and_naturalness(tmp_path):
    result = svdd("run", *TINY, "reward=qed", "reward.workers=1", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert len(rows) == 5
    assert set(rows[0]) >= {"id", "smiles", "valid", "qed", "sa", "logp", "reward", "log_likelihood"}
    valid = [r for r in rows if r["valid"] == "True"]
    assert all(float(r["reward"]) == pytest.approx(float(r["qed"]), abs=1e-6) for r in valid)
    sdf = [m for m in Chem.SDMolSupplier(str(tmp_path / "samples.sdf"))]
    assert [m.GetProp("_Name") for m in sdf] == [r["id"] for r in valid]
    assert (tmp_path / "top_molecules.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"validity", "uniqueness", "novelty", "internal_diversity", "log_likelihood"} <= set(summary["naturalness"])
    assert summary["oracle"]["scored"] >= 1 and summary["oracle"]["failures"] >= 0


def test_composite_run_sums_its_terms(tmp_path):
    result = svdd("run", *TINY, "reward=composite", "reward.terms.qed=1.0", "reward.terms.sa=0.5",
                  "+reward.terms.moses_filters=0.3", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"qed.cache_hit_rate", "sa.failures", "moses_filters.scored"} <= set(summary["oracle"])


def test_the_confidence_kernel_with_corrector_rounds_runs_and_needs_one_step_per_token(tmp_path):
    base = ["domain=molecule", "sampler=ancestral", "num_samples=3", "reference_samples=0", "likelihood_draws=1",
            "device=cpu", "reward=qed", "model.kernel=confidence", "model.top_p=0.9"]
    result = svdd("run", *base, "sampler.remask_rounds=2", f"hydra.run.dir={tmp_path / 'ok'}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "ok" / "samples.csv")))
    assert len(rows) == 3 and all(r["valid"] == "True" for r in rows)
    summary = json.loads((tmp_path / "ok" / "summary.json").read_text())
    assert summary["nfe_per_sample"] == 24 + 2 * 4  # each round re-draws round(0.15 x 24) = 4 tokens
    result = svdd("run", *base, "model.num_steps=4", f"hydra.run.dir={tmp_path / 'short'}")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "svdd: error: model.kernel=confidence unmasks one position per network call: set model.num_steps=24 (the "
        "model's length), not 4, or model.kernel=random_order"]
    assert not (tmp_path / "short" / "samples.csv").exists()


def test_the_natural_molecule_model_samples_right_to_left_from_its_own_weights(tmp_path):
    """model=molecule_r2l: the order-trained weights, one position per call from the end, the 0.93 nucleus."""
    result = svdd("run", "domain=molecule", "model=molecule_r2l", "sampler=ancestral", "num_samples=3",
                  "reference_samples=0", "likelihood_draws=1", "device=cpu", "reward=qed",
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert len(rows) == 3 and all(r["valid"] == "True" for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["nfe_per_sample"] == 24
    config = (tmp_path / ".hydra" / "config.yaml").read_text()
    assert "molecule_mdlm_r2l" in config and "kernel: right_to_left" in config and "top_p: 0.93" in config


@pytest.mark.slow
def test_docking_run_end_to_end(tmp_path):
    """Real AutoDock Vina on dockstring's PARP1 box, guided by SVDD (a few minutes on 2 cores)."""
    result = svdd("run", *TINY, "reward=docking", "reward.target=PARP1", "reward.exhaustiveness=1",
                  "num_samples=2", "batch_size=2", "reference_samples=0", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(rows) == 2 and all(float(r["reward"]) > 0 for r in rows)
    assert summary["oracle"]["scored"] >= 2 and 0 <= summary["oracle"]["cache_hit_rate"] < 1
