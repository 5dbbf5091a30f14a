"""PMO's molecular oracles (Gao et al. 2022, "Sample efficiency matters"), scored by PyTDC's own definitions.

PMO has 23 tasks. 20 run offline (TASKS); drd2, gsk3b and jnk3 score with trained classifiers that PyTDC
downloads at first use, so they are refused here. PyTDC declares a large dependency tree (datasets, transformers,
cellxgene-census, numpy<2, rdkit<2024.3) that its oracles never use, so it is installed without it:
`pip install 'svdd[pmo]'` brings what `import tdc` needs, then `pip install --no-deps PyTDC==1.1.15` (both are in
`make install`). None of the 20 tasks reads PyTDC's fragment scores (those of its sa and logp oracles), so
nothing is downloaded and nothing is written to the working directory.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from rdkit import Chem

from svdd_cli.errors import UserError
from svdd_cli.rewards.molecular import MolecularScore

PYTDC = "PyTDC==1.1.15"
EXTRA = ("tdc", "pandas", "sklearn", "fuzzywuzzy", "six", "pkg_resources")  # what `import tdc` needs beyond svdd's
TASKS = (  # PMO's 23 tasks less drd2, gsk3b and jnk3; PyTDC's names
    "albuterol_similarity", "amlodipine_mpo", "celecoxib_rediscovery", "deco_hop", "fexofenadine_mpo",
    "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "median1", "median2", "mestranol_similarity", "osimertinib_mpo",
    "perindopril_mpo", "qed", "ranolazine_mpo", "scaffold_hop", "sitagliptin_mpo", "thiothixene_rediscovery",
    "troglitazone_rediscovery", "valsartan_smarts", "zaleplon_mpo",
)
DOWNLOADED = ("drd2", "gsk3b", "jnk3")  # PyTDC fetches oracle/<task>_current.pkl (a scikit-learn classifier)


def check_task(task: str) -> None:
    """UserError unless `task` is one of the 20 offline PMO tasks."""
    if task in DOWNLOADED:
        raise UserError(f"reward.task={task} is skipped offline: PyTDC's {task} oracle downloads a trained classifier "
                        f"(oracle/{task}_current.pkl) at first use; the offline tasks are {', '.join(TASKS)}")
    if task not in TASKS:
        raise UserError(f"reward.task={task!r} is not a PMO task that runs offline: use one of {', '.join(TASKS)}")


def check_extra() -> None:
    """UserError naming the install commands when a package of the `pmo` extra (or PyTDC) is missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"reward=pmo needs {', '.join(missing)}: pip install 'svdd[pmo]' && pip install --no-deps "
                        f"{PYTDC} (or `make install`, which installs both)")


@cache
def tdc_oracle(task: str) -> Callable[[str], float]:
    """PyTDC's Oracle(name=task), built once per process (SMILES -> float; 0.5-10 ms a molecule)."""
    if importlib.util.find_spec("rdkit.six") is None:  # RDKit 2024.03 dropped its copy of six; PyTDC imports it
        sys.modules["rdkit.six"] = importlib.import_module("six")
    with warnings.catch_warnings():  # importing tdc sets warnings.filterwarnings("ignore") for the whole process
        warnings.simplefilter("ignore")  # and warns about pkg_resources, fuzzywuzzy and deprecated RDKit modules
        from tdc import Oracle

        return Oracle(name=task)  # imports the oracle's module


@dataclass(frozen=True)
class TaskScore:
    """One task's oracle as a picklable SMILES -> float for the pool's worker processes; ValueError when the
    SMILES is not a molecule (PyTDC would give it 0.0 silently; the pool gives it the penalty and counts it)."""

    task: str

    def __call__(self, smiles: str) -> float:
        mol = Chem.MolFromSmiles(smiles) if smiles else None
        if mol is None or mol.GetNumAtoms() == 0:
            raise ValueError(f"not a valid molecule: {smiles!r}")
        return float(tdc_oracle(self.task)(smiles))


class Pmo(MolecularScore):
    """reward=pmo reward.task=<name>: a PMO task's score in [0, 1]; list of B SMILES -> (B,), one oracle call per
    distinct canonical SMILES (0.5 ms for the similarity tasks to 10 ms for the hop tasks, on one core)."""

    def __init__(self, task: str = "albuterol_similarity", penalty: float = 0.0, workers: int = 0) -> None:
        check_task(task)
        check_extra()
        tdc_oracle(task)  # here, not in the first batch: a broken install fails before sampling; workers inherit it
        self.task = task
        self.score = TaskScore(task)
        super().__init__(penalty, workers)
