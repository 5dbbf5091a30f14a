"""Ctrl-C in the middle of a run keeps every finished batch on disk and records the interruption."""

from __future__ import annotations

import csv
import json

import pytest

from svdd_cli import run as run_module
from svdd_cli.samplers.ancestral import Ancestral


class InterruptedAncestral(Ancestral):
    """Ancestral sampling that is interrupted (as by Ctrl-C) at its second batch."""

    calls = 0

    def sample(self, *args, **kwargs):
        type(self).calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().sample(*args, **kwargs)


def test_interrupt_keeps_finished_batches(compose_config, tmp_path, monkeypatch):
    cfg = compose_config(["sampler=ancestral", "model.num_steps=3", "num_samples=6", "batch_size=3",
                          "likelihood_draws=1", "device=cpu"])
    build = run_module.build

    def build_interrupted(cfg):
        parts = build(cfg)
        parts.sampler = InterruptedAncestral()
        return parts

    monkeypatch.setattr(run_module, "build", build_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_module.run(cfg, tmp_path)
    assert len(list(csv.DictReader(open(tmp_path / "samples.csv")))) == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["num_samples"] == 3
