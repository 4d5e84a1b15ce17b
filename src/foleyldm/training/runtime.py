"""What a training process sets up around the loop: Accelerator, starting model, LR
schedule, RNG hygiene, signal handling."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from foleyldm.models.clap.dual import DualEncoderCLAP
from foleyldm.models.presets import PRESETS
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training import checkpoint as ckpt
from foleyldm.training.config import Config, OptimConfig


def make_accelerator(config: Config) -> Accelerator:
    """The process's Accelerator (one per process: its mixed precision cannot change later).

    Schedulers are stepped by the trainer once per optimiser step, not by Accelerate (which
    would step them once per process). Without a GPU, several processes need ``cpu=True``
    (Accelerate otherwise runs each of them alone instead of as one gloo group).
    """
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return Accelerator(
        mixed_precision=config.run.mixed_precision,
        cpu=config.run.cpu or (several and not torch.cuda.is_available()),
        step_scheduler_with_optimizer=False,
    )


def is_preset(spec: str | None) -> bool:
    return spec is not None and spec in PRESETS and not Path(spec).exists()


def load_init(config: Config) -> TextToAudioPipeline:
    """The pipeline a run starts from: ``config.init`` (folder, release, preset) or the preset.

    A preset is built with the libraries' own initialisation (the start of training), not
    the "spread" test weights. ``clap.max_seconds`` is applied to a dual-encoder CLAP.
    """
    from foleyldm.pipelines.loading import build_pipeline, load_pipeline

    spec = config.init
    if spec is None or is_preset(spec):
        pipe = build_pipeline(spec or config.preset, seed=config.run.seed, init="library")
    else:
        pipe = load_pipeline(spec, device="cpu")
    return with_clap_window(pipe, config.clap.max_seconds)


def with_clap_window(pipe: TextToAudioPipeline, seconds: float | None) -> TextToAudioPipeline:
    """``pipe`` with its dual-encoder CLAP cropping / repeat-padding clips to ``seconds``
    (None: unchanged). Only the config changes; the weights are the same."""
    clap = pipe.clap
    if (
        seconds is None
        or not isinstance(clap, DualEncoderCLAP)
        or clap.config.max_seconds == seconds
    ):
        return pipe
    new = DualEncoderCLAP.build(dataclasses.replace(clap.config, max_seconds=seconds))
    new.load_state_dict(clap.state_dict())
    pipe.clap = new.eval()
    return pipe


def lr_factor(optim: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base LR after ``step`` optimiser steps (warm-up, then the schedule)."""

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / optim.warmup_steps) if optim.warmup_steps else 1.0
        if optim.schedule == "exponential":
            return warm * optim.gamma**step
        if optim.schedule == "cosine":
            span = max(1, total_steps - optim.warmup_steps)
            progress = min(1.0, max(0, step - optim.warmup_steps) / span)
            cos = 0.5 * (1 + math.cos(math.pi * progress))
            return warm * (optim.min_lr_ratio + (1 - optim.min_lr_ratio) * cos)
        return warm

    return factor


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Run a block without leaving its changes to the global RNGs behind."""
    state = ckpt.rng_state()
    try:
        yield
    finally:
        ckpt.set_rng_state(state)


class StopFlag:
    """SIGTERM/SIGINT set ``signal`` (the loop checkpoints and stops after the current
    step); a second SIGINT interrupts at once. Handlers are restored on exit."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
