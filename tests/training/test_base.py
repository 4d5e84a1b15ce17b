"""Pieces of the loop base: EMA, LR schedules, RNG capture, atomic checkpoints."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from foleyldm.training import checkpoint as ckpt
from foleyldm.training.config import OptimConfig
from foleyldm.training.ema import EMA
from foleyldm.training.runtime import lr_factor


def test_ema_warms_up_averages_and_swaps() -> None:
    model = nn.Linear(2, 2)
    ema = EMA(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # as LitEma: decay min(0.9, (1 + n) / (10 + n)) with n = 1 -> 2/11
    assert torch.allclose(ema.shadow["weight"], start["weight"] + 9 / 11)
    assert ema.current_decay() == pytest.approx(2 / 11)
    with ema.swapped(model):
        assert torch.equal(model.weight, ema.shadow["weight"])
    assert torch.equal(model.weight, start["weight"] + 1.0)
    other = EMA(nn.Linear(2, 2), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1 and torch.equal(other.shadow["bias"], ema.shadow["bias"])


def test_lr_schedules() -> None:
    warm = lr_factor(OptimConfig(warmup_steps=4), 100)
    assert [warm(s) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    cos = lr_factor(OptimConfig(schedule="cosine", min_lr_ratio=0.1), 10)
    assert cos(0) == 1.0 and cos(10) == pytest.approx(0.1) and cos(5) == pytest.approx(0.55)
    assert lr_factor(OptimConfig(schedule="exponential", gamma=0.5), 10)(3) == 0.125


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path) -> None:
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    torch.save(ckpt.rng_state(), tmp_path / "rng.pt")
    expected = (torch.rand(3), random.random(), np.random.rand())
    ckpt.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], got[0]) and expected[1:] == got[1:]


def test_checkpoints_are_atomic_and_pruned(tmp_path) -> None:
    for step in (1, 2, 3):
        ckpt.save_checkpoint(
            tmp_path, step, {"model-x": {"w": torch.ones(2) * step}}, {"step": step}, keep=2
        )
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000002", "step_00000003"]
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest is not None and latest.name == "step_00000003"
    assert torch.equal(ckpt.load_tensors(latest, "model-x")["w"], torch.full((2,), 3.0))  # type: ignore[index]
    # a crash while writing leaves a .tmp folder behind, which is never taken for a checkpoint
    (tmp_path / "checkpoints" / ".tmp-step_00000004").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step_00000004")
    assert ckpt.latest_checkpoint(tmp_path) == latest
