"""AutoDock Vina docking: reward = -(best Vina score in kcal/mol), so tighter predicted binding is higher.

Receptors (prepared PDBQT) and search boxes are dockstring's 58 shipped targets (PARP1, DRD2, ESR1, ...),
read by path from the installed `dockstring` package (it has no dependencies) or from `targets_dir`.
Ligands: RDKit 3-D embedding (ETKDGv3, seeded) + MMFF, then meeko's PDBQT preparation. Unlike
dockstring there is no protonation at pH 7.4 (that needs Open Babel), so scores differ a little from
its published tables. The receptor's affinity maps (every atom type, the slow part) are computed once,
at the first call, and reused for every ligand (worker processes forked later inherit them);
ScorePool caches scores by canonical SMILES.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import AllChem
from torch import Tensor

from svdd_cli.errors import UserError
from svdd_cli.rewards.pool import PooledReward
from svdd_cli.science.chem import canonical_smiles, mol_from_smiles

Box = tuple[float, float, float]


EXTRA = ("vina", "meeko", "gemmi", "scipy")  # the `docking` extra (pyproject.toml)


def check_extra() -> None:
    """UserError naming the extra when its packages are missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"reward=docking needs {', '.join(missing)}: pip install 'svdd[docking]' "
                        "(or `make install`, which installs every extra)")


def dockstring_targets() -> Path:
    """dockstring/resources/targets of the installed package, found without importing it."""
    spec = importlib.util.find_spec("dockstring")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("docking needs dockstring's targets: `pip install --no-deps dockstring==0.3.4`, "
                        "or set reward.targets_dir to a folder of <T>_target.pdbqt + <T>_conf.txt")
    return Path(spec.submodule_search_locations[0]) / "resources" / "targets"


def read_box(conf: Path) -> tuple[Box, Box]:
    """(center, size) in Angstrom from a Vina config file with center_x = ... / size_x = ... lines."""
    values = {}
    for line in conf.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = float(value)
    return tuple(values[f"center_{a}"] for a in "xyz"), tuple(values[f"size_{a}"] for a in "xyz")


def ligand_pdbqt(smiles: str, seed: int) -> str:
    """A 3-D conformer of the molecule (hydrogens added, MMFF-relaxed) as meeko PDBQT text."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    mol = Chem.AddHs(mol_from_smiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    with rdBase.BlockLogs():  # force-field typing warnings ("UFFTYPER: ...") for every odd atom
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise ValueError(f"RDKit could not embed {smiles} in 3-D")
        AllChem.MMFFOptimizeMolecule(mol)
    pdbqt, ok, error = PDBQTWriterLegacy.write_string(MoleculePreparation().prepare(mol)[0])
    if not ok:
        raise ValueError(f"meeko could not prepare {smiles}: {error}")
    return pdbqt


@cache
def receptor(pdbqt: str, center: Box, size: Box, cpu: int, seed: int) -> Any:
    """A vina.Vina with the receptor's affinity maps computed, one per process (the slow part)."""
    from vina import Vina

    vina = Vina(sf_name="vina", cpu=cpu, seed=seed, verbosity=0)
    vina.set_receptor(pdbqt)
    vina.compute_vina_maps(center=list(center), box_size=list(size))
    return vina


@dataclass(frozen=True)
class VinaJob:
    """Picklable per-ligand scorer for ScorePool: SMILES -> -(best Vina score)."""

    pdbqt: str  # the receptor
    center: Box
    size: Box
    exhaustiveness: int
    seed: int
    cpu: int

    def vina(self) -> Any:
        """This process's Vina object for the receptor, maps computed."""
        return receptor(self.pdbqt, self.center, self.size, self.cpu, self.seed)

    def __call__(self, smiles: str) -> float:
        vina = self.vina()
        vina.set_ligand_from_string(ligand_pdbqt(smiles, self.seed))
        vina.dock(exhaustiveness=self.exhaustiveness, n_poses=1)
        return -float(vina.energies(n_poses=1)[0][0])


class Docking(PooledReward):
    """-(Vina score) against a dockstring target; a ligand that fails to embed or dock gets `penalty`."""

    domains = ("molecule",)

    def __init__(self, target: str = "PARP1", exhaustiveness: int = 8, seed: int = 0, cpu_per_ligand: int = 1,
                 workers: int = 0, penalty: float = 0.0, targets_dir: str | Path | None = None) -> None:
        check_extra()
        folder = Path(targets_dir) if targets_dir else dockstring_targets()
        available = sorted(p.name.removesuffix("_target.pdbqt") for p in folder.glob("*_target.pdbqt"))
        if target not in available:
            raise UserError(f"reward.target={target} is not a docking target in {folder}; available: "
                            + (", ".join(available) or "none"))
        if exhaustiveness < 1:
            raise UserError(f"reward.exhaustiveness={exhaustiveness} must be >= 1")
        center, size = read_box(folder / f"{target}_conf.txt")
        job = VinaJob(str(folder / f"{target}_target.pdbqt"), center, size, exhaustiveness, seed, cpu_per_ligand)
        self.target, self.job = target, job
        super().__init__(job, penalty, workers, key=canonical_smiles)

    def __call__(self, samples: list[str]) -> Tensor:
        try:
            self.job.vina()  # maps computed here once: forked workers inherit them instead of each redoing it
        except RuntimeError as err:
            raise UserError(f"reward.target={self.target}: Vina cannot use {self.job.pdbqt}: {err}") from None
        return super().__call__(samples)
