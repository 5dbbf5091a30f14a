"""AutoDock Vina docking reward: targets, user errors, a real docking on a small ligand."""

from __future__ import annotations

import time

import pytest

from svdd_cli.errors import UserError
from svdd_cli.rewards.docking import Docking, dockstring_targets, read_box


def small_box_target(folder, target: str = "PARP1", size: float = 14.0):
    """dockstring's receptor with a smaller box around the same pocket centre: its maps compute in seconds."""
    src = dockstring_targets()
    (folder / f"{target}_target.pdbqt").symlink_to(src / f"{target}_target.pdbqt")
    center, _ = read_box(src / f"{target}_conf.txt")
    (folder / f"{target}_conf.txt").write_text("".join(f"center_{a} = {c}\n" for a, c in zip("xyz", center))
                                               + "".join(f"size_{a} = {size}\n" for a in "xyz"))
    return folder


def test_targets_and_boxes_come_from_dockstring():
    names = sorted(p.name.removesuffix("_target.pdbqt") for p in dockstring_targets().glob("*_target.pdbqt"))
    assert len(names) == 58 and {"PARP1", "DRD2", "ESR1"} <= set(names)
    center, size = read_box(dockstring_targets() / "PARP1_conf.txt")
    assert center == pytest.approx((26.835, 11.332, 27.744)) and size == (30.0, 30.0, 30.0)


def test_instantiation_does_not_dock_and_unknown_targets_list_the_others():
    start = time.perf_counter()
    Docking(target="DRD2", exhaustiveness=1)
    assert time.perf_counter() - start < 2.0
    with pytest.raises(UserError, match=r"NOPE is not a docking target.*PARP1"):
        Docking(target="NOPE")
    with pytest.raises(UserError, match="exhaustiveness=0"):
        Docking(exhaustiveness=0)


def test_docking_a_small_ligand_and_penalising_a_bad_one(tmp_path):
    reward = Docking(exhaustiveness=1, workers=1, penalty=-99.0, targets_dir=small_box_target(tmp_path))
    scores = reward(["NC(=O)c1ccccc1", "", "NC(=O)c1ccccc1"])  # benzamide, the PARP pharmacophore
    assert 3.0 < scores[0] < 10.0 and scores[1] == -99.0 and scores[2] == scores[0]
    assert reward.stats() == {"cache_hit_rate": pytest.approx(1 / 3), "scored": 2, "failures": 1}


@pytest.mark.slow
def test_a_parp_inhibitor_outscores_a_fragment_on_the_real_parp1_box():
    """Olaparib (a PARP1 drug) against benzamide, dockstring's full PARP1 box, all-type maps (~30 s + docking)."""
    olaparib = "O=C1NN=C(Cc2ccc(F)c(C(=O)N3CCN(C(=O)C4CC4)CC3)c2)c2ccccc12"
    scores = Docking(target="PARP1", exhaustiveness=1, workers=1)([olaparib, "NC(=O)c1ccccc1"])
    assert scores[0] > 9.0 and scores[0] > scores[1] + 2.0
