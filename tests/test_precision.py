"""precision=bf16: the network runs under bfloat16 autocast, outputs stay float32 and close to fp32's."""

from __future__ import annotations

import pytest
import torch

from svdd_cli import run as run_module
from svdd_cli.core import Counters, counted_model
from svdd_cli.errors import UserError
from svdd_cli.models.masked import MaskedDiffusion


def test_bf16_autocast_predictions_are_float32_and_close(tiny_checkpoint):
    model = MaskedDiffusion.from_checkpoint(tiny_checkpoint, num_steps=4, device="cpu")
    x = model.propose(model.predict(model.init(8, torch.Generator()), 1.0), 0.5, torch.Generator().manual_seed(0))
    full = counted_model(model, Counters(), 64).predict(x, 0.5)
    half = counted_model(model, Counters(), 64, precision="bf16").predict(x, 0.5)
    assert half.output.dtype == torch.float32
    finite = torch.isfinite(full.output)
    assert torch.equal(finite, torch.isfinite(half.output))
    gap = (full.output[finite] - half.output[finite]).abs().max().item()
    assert 0 < gap < 0.1  # bf16 really ran (not bit-identical) and stays close


def test_unknown_precision_is_one_line_error(compose_config):
    with pytest.raises(UserError, match="precision=fp16 must be one of fp32, bf16"):
        run_module.settings(compose_config(["precision=fp16"]))
