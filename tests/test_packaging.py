"""A non-editable install (a wheel) carries configs/ and checkpoints/ and runs outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_configs_and_checkpoints_and_runs_elsewhere(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path / "wheel")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch & co. from this environment
    wheel = next((tmp_path / "wheel").glob("svdd-*.whl"))
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                                "--prefix", str(venv), str(wheel)],  # --ignore-installed: leave this env's svdd
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    shipped = sorted(p.relative_to(ROOT) for d in ("configs", "checkpoints") for p in (ROOT / d).rglob("*")
                     if p.is_file())
    share = site / "svdd_cli" / "_assets"  # inside the package: any install scheme finds it (--user too)
    assert [p for p in shipped if not (share / p).is_file()] == []
    run = subprocess.run([python, "-m", "svdd_cli.cli", "run", "sampler=ancestral", "num_samples=2", "batch_size=2",
                          "model.num_steps=2", "reference_samples=0", "likelihood_draws=1", "hydra.run.dir=out"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    located = subprocess.run([python, "-c", "import svdd_cli.assets as a; print(a.asset_root(), a.__file__)"],
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert located[0] == str(share) and located[1].startswith(str(venv))
    assert (tmp_path / "out" / "summary.json").is_file()
