"""reward=pmo: PyTDC's PMO oracles against guacamol's own scoring functions (which PMO's tasks come from), the
refused and unknown tasks, the missing extra, and a short `svdd run`."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy
import torch

from svdd_cli.core import DomainRestricted
from svdd_cli.errors import UserError
from svdd_cli.rewards import pmo
from svdd_cli.rewards.pmo import Pmo
from tests.test_cli import svdd

ROOT = Path(__file__).resolve().parent.parent
KNOWN = [  # the tasks' own reference molecules, an isomer of each isomer task's formula, a valsartan_smarts hit
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # albuterol
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",  # mestranol
    "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",  # celecoxib
    "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",  # troglitazone
    "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",  # thiothixene
    "CC(C)C1CCC(C)CC1O",  # menthol
    "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",  # sildenafil
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34",  # osimertinib
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",  # fexofenadine
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",  # ranolazine
    "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC",  # perindopril
    "Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC",  # amlodipine
    "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",  # sitagliptin
    "O=C(C)N(CC)C1=CC=CC(=C1)C2=CC=NC3=C(C=NN23)C#N",  # zaleplon
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",  # the hop tasks' reference
    "NCc1ccc([N+](=O)[O-])cc1",  # C7H8N2O2
    "NC(=O)c1c(F)c(F)c(Cl)c(N)c1OCCP",  # C9H10ClF2N2O2P
    "OCCN(C=O)Cc1ccc(-c2ccccc2-c2nnn[nH]2)cc1F",  # carries valsartan's SMARTS
]
BAD = ["", "C1CC", "not a molecule"]


def guacamol_objectives() -> dict[str, object]:
    """PMO task -> guacamol's scoring function for it (goal_directed_suite_v2 and its QED / C7H8N2O2 siblings)."""
    scipy.histogram = np.histogram  # guacamol imports scipy.histogram, numpy's function, which SciPy 1.12 dropped
    from guacamol import standard_benchmarks as sb

    def similarity(smiles: str, fp: str, threshold: float, rediscovery: bool = False):
        return sb.similarity(smiles=smiles, name="", fp_type=fp, threshold=threshold, rediscovery=rediscovery)

    benchmarks = {
        "albuterol_similarity": similarity(KNOWN[0], "FCFP4", 0.75),
        "mestranol_similarity": similarity(KNOWN[1], "AP", 0.75),
        "celecoxib_rediscovery": similarity(KNOWN[2], "ECFP4", 1.0, rediscovery=True),
        "troglitazone_rediscovery": similarity(KNOWN[3], "ECFP4", 1.0, rediscovery=True),
        "thiothixene_rediscovery": similarity(KNOWN[4], "ECFP4", 1.0, rediscovery=True),
        "isomers_c7h8n2o2": sb.isomers_c7h8n2o2(), "isomers_c9h10n2o2pf2cl": sb.isomers_c9h10n2o2pf2cl(),
        "median1": sb.median_camphor_menthol(), "median2": sb.median_tadalafil_sildenafil(),
        "osimertinib_mpo": sb.hard_osimertinib(), "fexofenadine_mpo": sb.hard_fexofenadine(),
        "ranolazine_mpo": sb.ranolazine_mpo(), "perindopril_mpo": sb.perindopril_rings(),
        "amlodipine_mpo": sb.amlodipine_rings(), "sitagliptin_mpo": sb.sitagliptin_replacement(),
        "zaleplon_mpo": sb.zaleplon_with_other_formula(), "valsartan_smarts": sb.valsartan_smarts(),
        "deco_hop": sb.decoration_hop(), "scaffold_hop": sb.scaffold_hop(), "qed": sb.qed_benchmark(),
    }
    return {task: benchmark.objective for task, benchmark in benchmarks.items()}


def test_every_offline_task_scores_as_guacamol_does():
    objectives = guacamol_objectives()
    assert sorted(objectives) == sorted(pmo.TASKS)
    for task, objective in objectives.items():
        expected = torch.tensor([objective.score(s) for s in KNOWN], dtype=torch.float32)
        got = Pmo(task, workers=1)(KNOWN)
        assert torch.allclose(got, expected, atol=1e-6), task
        assert got.max() > 0.09, task  # each task sees a molecule it rewards
    rediscovered = Pmo("celecoxib_rediscovery", workers=1)([KNOWN[2], KNOWN[0]])
    assert rediscovered[0] == 1.0 and rediscovered[1] < 0.2


def test_invalid_molecules_get_the_penalty_and_are_counted_and_workers_agree():
    reward = Pmo("median2", penalty=-1.0, workers=2)  # a process pool: the score must pickle
    try:
        out = reward(KNOWN + BAD)
    finally:
        reward.pool.close()
    assert torch.equal(out[: len(KNOWN)], Pmo("median2", workers=1)(KNOWN))
    assert out[len(KNOWN):].tolist() == [-1.0] * len(BAD)
    assert reward.stats()["failures"] == 1  # '' and the unparsable ones share the empty canonical key
    assert isinstance(reward, DomainRestricted) and reward.domains == ("molecule",)


@pytest.mark.parametrize("task", pmo.DOWNLOADED)
def test_the_download_tasks_are_refused_in_one_line(task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=f"reward.task={task} is skipped offline: PyTDC's {task} oracle downloads") as e:
        Pmo(task)
    assert "\n" not in str(e.value) and "albuterol_similarity, amlodipine_mpo" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_task_lists_the_valid_names():
    with pytest.raises(UserError) as e:
        Pmo("albuterol")  # PyTDC itself would fuzzy-match it to some oracle
    message = str(e.value)
    assert message.startswith("reward.task='albuterol' is not a PMO task that runs offline: use one of ")
    assert "\n" not in message and all(task in message for task in pmo.TASKS) and "drd2" not in message


def test_a_missing_pytdc_names_both_install_commands(monkeypatch):
    makefile = (ROOT / "Makefile").read_text()
    assert f"--no-deps {pmo.PYTDC}" in makefile and "'.[dev,docking,fcd,pmo]'" in makefile  # what the message says
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tdc" else find_spec(name, *a))
    with pytest.raises(UserError, match=r"reward=pmo needs tdc: pip install 'svdd\[pmo\]' && pip install --no-deps "
                                        r"PyTDC==1\.1\.15 \(or `make install`"):
        Pmo("qed")


def test_scoring_every_task_writes_nothing_and_keeps_the_warning_filters(tmp_path):
    """PyTDC's SA/logP read ./oracle/fpscores.pkl (downloading it), and `import tdc` silences every warning."""
    script = ("import warnings; from svdd_cli.rewards.pmo import Pmo, TASKS; before = list(warnings.filters); "
              "print(sum(float(Pmo(t, workers=1)(['CC(C)(C)NCC(O)c1ccc(O)c(CO)c1'])) for t in TASKS)); "
              "assert warnings.filters == before, 'import tdc changed the warning filters'")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 3 and result.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_a_short_run_scores_its_samples_as_guacamol_does(tmp_path):
    base = ["domain=molecule", "reward=pmo", "model.num_steps=4", "num_samples=4", "batch_size=2",
            "sampler.num_candidates=2", "reference_samples=0", "likelihood_draws=1", "device=cpu", "reward.workers=1"]
    result = svdd("run", *base, "reward.task=albuterol_similarity", f"hydra.run.dir={tmp_path / 'ok'}")
    assert result.returncode == 0, result.stderr
    rows = [r for r in csv.DictReader(open(tmp_path / "ok" / "samples.csv")) if r["valid"] == "True"]
    assert rows
    albuterol = guacamol_objectives()["albuterol_similarity"]
    assert [float(r["reward"]) for r in rows] == pytest.approx([albuterol.score(r["smiles"]) for r in rows], abs=1e-6)
    refused = svdd("run", *base, "reward.task=jnk3", f"hydra.run.dir={tmp_path / 'refused'}")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"svdd: error: reward.task=jnk3 is skipped offline: PyTDC's jnk3 oracle downloads a trained classifier "
        f"(oracle/jnk3_current.pkl) at first use; the offline tasks are {', '.join(pmo.TASKS)}"]
