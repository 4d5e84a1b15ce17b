"""Exact resume (2N steps straight == N, SIGTERM, resume, N more: bit for bit) and the
non-finite loss stop that leaves the last good checkpoint intact."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from foleyldm.training.base import NonFiniteLossError
from foleyldm.training.checkpoint import latest_checkpoint, list_checkpoints
from foleyldm.training.ldm import LDMTrainer
from foleyldm.training.runner import train_stage

from .conftest import tiny_config

N = 3


def _terminate_at(step: int):
    def hook(trainer) -> None:
        if trainer.step == step:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@pytest.mark.parametrize("stage", ["ldm", "vae"])
def test_resume_after_sigterm_is_bit_exact(stage, corpus, tmp_path) -> None:
    # VAE: the PatchGAN starts before the interruption, so both optimisers are resumed.
    cfg = tiny_config(corpus, f"{stage}.steps={2 * N}", "run.save_every=100", "vae.disc_start=2")
    straight = train_stage(stage, cfg, tmp_path / "straight")

    cut = train_stage(stage, cfg, tmp_path / "cut", on_step=_terminate_at(N))
    assert cut.interrupted and cut.step == N
    assert [p.name for p in list_checkpoints(tmp_path / "cut")] == [f"step_{N:08d}"]
    with pytest.raises(Exception, match="already has checkpoints"):
        train_stage(stage, cfg, tmp_path / "cut")
    resumed = train_stage(stage, cfg, tmp_path / "cut", resume=True)
    assert resumed.step == 2 * N and not resumed.interrupted

    a, b = latest_checkpoint(tmp_path / "straight"), latest_checkpoint(tmp_path / "cut")
    assert a is not None and b is not None and a.name == b.name == f"step_{2 * N:08d}"
    files = sorted(p.name for p in a.glob("*.safetensors"))
    assert files == sorted(p.name for p in b.glob("*.safetensors")) and files
    for name in files:  # model, EMA and discriminator weights
        wa, wb = load_file(a / name), load_file(b / name)
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    sa = torch.load(a / "state.pt", weights_only=True)
    sb = torch.load(b / "state.pt", weights_only=True)
    for opt in sa["optimizers"]:
        for key, state in sa["optimizers"][opt]["state"].items():
            other = sb["optimizers"][opt]["state"][key]
            assert all(torch.equal(v, other[k]) for k, v in state.items())
    assert sa["position"] == sb["position"] == 2 * N
    assert [r["loss"] for r in straight.history] == [r["loss"] for r in resumed.history]


def test_nonfinite_loss_stops_before_the_update(corpus, tmp_path) -> None:
    trainer = LDMTrainer(tiny_config(corpus, "ldm.steps=6", "run.save_every=2"), tmp_path)
    real_loss = trainer.loss

    def poisoned(batch, unet=None):
        loss = real_loss(batch, unet)
        return loss * float("nan") if trainer.step == 3 else loss

    trainer.loss = poisoned  # type: ignore[method-assign]
    with pytest.raises(
        NonFiniteLossError, match=r"at step 4.*last good checkpoint: .*step_00000002"
    ):
        trainer.fit()
    assert trainer.step == 3
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000002"]
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    weights = load_file(tmp_path / "checkpoints" / "step_00000002" / "model-unet.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert all(torch.isfinite(p).all() for p in trainer.unwrap(trainer.unet).parameters())
