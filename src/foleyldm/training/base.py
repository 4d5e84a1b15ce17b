"""The one training loop every stage runs on (STYLE.md lesson 12).

A stage subclasses `Trainer`, declares its state in ``build`` (models, optimisers with their
LR schedules, EMA copies) and writes ``train_step``; the base does the rest:

- HF Accelerate for device placement, mixed precision and multi-process data parallel
  (``accelerate launch --multi_gpu --num_processes N``: gloo on CPU, NCCL on GPU);
- gradient accumulation (``no_sync`` on all but the last micro-batch);
- the global batch order and per-sample randomness of `foleyldm.training.data`, so a run is a
  function of (config, seed) whatever the number of processes;
- checkpoints of the declared state + step + data position + RNG states, written
  atomically every ``run.save_every`` steps, at the end, and on SIGTERM/SIGINT; ``resume``
  continues bit for bit;
- a non-finite loss (on any process) stops the run before the optimiser step, so the last
  checkpoint is the last good state;
- ``log.jsonl`` + TensorBoard scalars (losses, learning rate, samples/s), audio and
  spectrogram samples from the stage's ``write_samples``, and a tqdm bar with ETA.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn

from foleyldm.data.augment import Augmenter
from foleyldm.data.datasets import ManifestDataset
from foleyldm.data.manifest import ClipRecord
from foleyldm.errors import FoleyError
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training import checkpoint as ckpt
from foleyldm.training.config import Config, ConfigError, OptimConfig, StageConfig, save_config
from foleyldm.training.data import (
    ItemDataset,
    clip_dataset,
    collate,
    manifest_records,
    repeat_rare,
    train_batches,
)
from foleyldm.training.ema import EMA
from foleyldm.training.logs import RunLog
from foleyldm.training.runtime import StopFlag, load_init, lr_factor, make_accelerator
from foleyldm.training.runtime import preserved_global_rng as preserved_global_rng

log = logging.getLogger(__name__)

Batch = dict[str, Any]
M = TypeVar("M", bound=nn.Module)
RUN_INFO = "run.json"


class NonFiniteLossError(FoleyError, RuntimeError):
    """The loss became NaN or Inf; the run stopped before the optimiser step."""


@dataclass
class TrainResult:
    """What a finished (or interrupted) run reports."""

    stage: str
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    #: Unreadable clips passed over (each time one was drawn), over all processes.
    skipped: int = 0
    #: Their paths, as far as this process saw them (data-loader workers keep their own).
    corrupt: list[str] = field(default_factory=list)
    checkpoint: Path | None = None
    interrupted: bool = False
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer(abc.ABC):
    """One run of one stage. Subclasses set ``stage`` and implement the abstract methods."""

    stage: ClassVar[str]
    #: Training clips need a caption (CLAP).
    needs_text: ClassVar[bool] = False

    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        accelerator: Accelerator | None = None,
        pipe: TextToAudioPipeline | None = None,
    ) -> None:
        self.config = config
        self.cfg: StageConfig = config.stage(self.stage)
        self.run_dir = Path(run_dir)
        self.accelerator = accelerator or make_accelerator(config)
        self.device = self.accelerator.device
        self.pipe = pipe if pipe is not None else load_init(config)
        self.sample_rate = self.pipe.sample_rate
        self.step = 0
        #: Global micro-batches consumed: the data position a resume continues from.
        self.position = 0
        self.history: list[dict[str, float]] = []
        self._skipped_before = 0  # global count restored from a checkpoint
        self._skipped_here = 0  # this process's count since then
        self._corrupt: set[str] = set()
        self._models: dict[str, nn.Module] = {}
        self._optimizers: dict[str, Any] = {}
        self._schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self._emas: dict[str, EMA] = {}
        self.logs = RunLog(
            self.run_dir, self.stage, self.accelerator.is_main_process, config.run.tensorboard
        )
        with preserved_global_rng():
            torch.manual_seed(config.run.seed)
            self.build()

    # ---- what a stage implements -------------------------------------------------------------
    @abc.abstractmethod
    def build(self) -> None:
        """Create models, optimisers and EMA copies with `add_model` / `add_optimizer` / ..."""

    @abc.abstractmethod
    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        """One optimiser step over ``grad_accum`` micro-batches; returns scalar logs (``loss``)."""

    @abc.abstractmethod
    def export_pipeline(self) -> TextToAudioPipeline:
        """The starting pipeline with this stage's trained component (EMA weights) in it."""

    def validate(self) -> dict[str, float]:
        """Metrics on the validation split (main process; default: none)."""
        return {}

    def write_samples(self, writer: Any) -> None:  # noqa: B027 - optional hook
        """Audio / spectrogram samples to TensorBoard (main process; default: none)."""

    def extra_state(self) -> dict[str, Any]:
        """Further stage state to checkpoint (plain types and tensors)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore `extra_state`."""

    # ---- declared state ----------------------------------------------------------------------
    def add_model(self, name: str, module: nn.Module) -> nn.Module:
        """Register a trained model; returns it prepared (on device, DDP-wrapped if needed)."""
        prepared: nn.Module = self.accelerator.prepare(module.train())
        self._models[name] = prepared
        return prepared

    def add_optimizer(
        self, name: str, params: Any, optim: OptimConfig, frozen_too: bool = False
    ) -> Any:
        """AdamW over ``params`` with the config's LR schedule (stepped once per step).

        ``frozen_too`` keeps parameters that need no gradient in the optimiser (AdamW skips
        them), so its state matches a run of the same model with them trainable (resume).
        """
        opt = torch.optim.AdamW(
            [p for p in params if p.requires_grad or frozen_too],
            lr=optim.lr,
            betas=optim.betas,
            eps=optim.eps,
            weight_decay=optim.weight_decay,
        )
        factor = lr_factor(optim, self.cfg.steps)
        self._schedulers[name] = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        self._optimizers[name] = self.accelerator.prepare_optimizer(opt)
        return self._optimizers[name]

    def add_ema(self, name: str, decay: float) -> EMA:
        self._emas[name] = EMA(self.unwrap(self._models[name]), decay)
        return self._emas[name]

    def frozen(self, module: M) -> M:
        """A helper model that does not train: on the device, eval mode, no gradients."""
        module.to(self.device).eval().requires_grad_(False)
        return module

    def unwrap(self, module: nn.Module) -> nn.Module:
        unwrapped: nn.Module = self.accelerator.unwrap_model(module)
        return unwrapped

    def export_model(self, name: str) -> nn.Module:
        """A registered model without its wrappers, its EMA weights loaded (for export)."""
        model = self.unwrap(self._models[name])
        if name in self._emas:
            self._emas[name].copy_to(model)
        return model

    # ---- helpers for train_step --------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision for calls outside the prepared models (frozen encoders)."""
        return self.accelerator.autocast()

    def accumulating(
        self, name: str, index: int, count: int
    ) -> contextlib.AbstractContextManager[Any]:
        """No gradient sync for micro-batch ``index`` of ``count`` unless it is the last."""
        if index < count - 1:
            return self.accelerator.no_sync(self._models[name])
        return contextlib.nullcontext()

    def optimizer_step(self, name: str, loss: torch.Tensor) -> torch.Tensor:
        """Check ``loss`` on every process, clip, step optimiser ``name`` and its schedule.

        Returns the loss averaged over processes. Raises `NonFiniteLossError` (gradients
        discarded, weights untouched) if any process saw a NaN/Inf loss.
        """
        value = self.reduce_mean(loss.detach().float().reshape(1))[0]
        if not torch.isfinite(value):
            for o in self._optimizers.values():
                o.zero_grad(set_to_none=True)
            raise NonFiniteLossError(
                f"{self.stage}: the {name} loss is {value.item()} at step {self.step + 1}; "
                f"the run stopped before updating the weights"
            )
        if self.cfg.optim.grad_clip > 0:
            self.accelerator.clip_grad_norm_(
                self._models[name].parameters(), self.cfg.optim.grad_clip
            )
        opt = self._optimizers[name]
        opt.step()
        opt.zero_grad(set_to_none=True)
        self._schedulers[name].step()
        return value

    def reduce_mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return t
        reduced: torch.Tensor = self.accelerator.reduce(t.to(self.device), "mean")
        return reduced.cpu()

    def reduce_sum(self, value: int) -> int:
        if self.accelerator.num_processes == 1:
            return value
        t = torch.tensor([float(value)], device=self.device)
        return int(self.accelerator.reduce(t, "sum").item())

    def lr(self) -> float:
        sched = next(iter(self._schedulers.values()), None)
        return float(sched.get_last_lr()[0]) if sched is not None else 0.0

    # ---- data --------------------------------------------------------------------------------
    def records(self, split: str) -> list[ClipRecord]:
        manifest = self.config.data.manifest
        if manifest is None:
            raise ConfigError("no data: pass --data MANIFEST (or set data.manifest)")
        return manifest_records(manifest, split, require_text=self.needs_text)

    def train_records(self) -> list[ClipRecord]:
        """The training split, rare categories repeated (the stage's ``repeat_threshold``)."""
        return repeat_rare(self.records(self.config.data.train_split), self.cfg.repeat_threshold)

    #: How items of `train_dataset` become a batch.
    collate_fn: Callable[[list[dict[str, Any]]], dict[str, Any]] = staticmethod(collate)

    def train_dataset(self) -> ItemDataset:
        data = self.config.data
        augment = None
        if data.mix_probability or data.concat_probability:
            augment = Augmenter(p_mix=data.mix_probability, p_concat=data.concat_probability)
        return clip_dataset(
            self.train_records(),
            self.cfg.segment_seconds,
            self.sample_rate,
            self.config.run.seed,
            augment=augment,
        )

    def val_dataset(self) -> ManifestDataset | None:
        """Fixed crops (from the start) of up to ``data.max_val_clips`` validation clips."""
        records = self.records(self.config.data.val_split)[: self.config.data.max_val_clips]
        if not records:
            return None
        seconds = self.cfg.segment_seconds
        return clip_dataset(records, seconds, self.sample_rate, self.config.run.seed, train=False)

    @property
    def skipped(self) -> int:
        """Unreadable clips passed over so far, over all processes (a collective call)."""
        return self._skipped_before + self.reduce_sum(self._skipped_here)

    # ---- checkpoints -------------------------------------------------------------------------
    def save(self) -> Path:
        tensors = {f"model-{k}": self.unwrap(m).state_dict() for k, m in self._models.items()}
        tensors.update({f"ema-{k}": e.shadow for k, e in self._emas.items()})
        objects = {
            "step": self.step,
            "position": self.position,
            "skipped": self.skipped,
            "corrupt": sorted(self._corrupt),
            "optimizers": {k: o.state_dict() for k, o in self._optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self._schedulers.items()},
            "ema": {
                k: {"decay": e.decay, "num_updates": e.num_updates} for k, e in self._emas.items()
            },
            "extra": self.extra_state(),
        }
        acc = self.accelerator
        return ckpt.save_checkpoint(
            self.run_dir,
            self.step,
            tensors,
            objects,
            rank=acc.process_index,
            world=acc.num_processes,
            barrier=acc.wait_for_everyone,
            keep=self.config.run.keep_checkpoints,
        )

    def load(self, checkpoint: Path, rng: bool = True) -> None:
        """Restore the declared state from ``checkpoint`` (and this process's RNG states)."""
        objects = ckpt.load_objects(checkpoint)
        for name, model in self._models.items():
            state = ckpt.load_tensors(checkpoint, f"model-{name}")
            if state is None:
                raise FoleyError(f"{checkpoint} has no weights for {name!r}")
            self.unwrap(model).load_state_dict(state)
        for name, ema in self._emas.items():
            shadow = ckpt.load_tensors(checkpoint, f"ema-{name}")
            ema.load_state_dict({**objects["ema"][name], "shadow": shadow})
        for name, opt in self._optimizers.items():
            opt.load_state_dict(objects["optimizers"][name])
        for name, sched in self._schedulers.items():
            sched.load_state_dict(objects["schedulers"][name])
        self.step, self.position = int(objects["step"]), int(objects["position"])
        self._skipped_before, self._skipped_here = int(objects["skipped"]), 0
        self._corrupt = set(objects["corrupt"])
        self.load_extra_state(objects["extra"])
        state = ckpt.load_rng(checkpoint, self.accelerator.process_index) if rng else None
        if state is not None:
            ckpt.set_rng_state(state)

    # ---- the loop ----------------------------------------------------------------------------
    def fit(
        self, resume: bool = False, on_step: Callable[[Trainer], None] | None = None
    ) -> TrainResult:
        """Train to ``steps`` (continuing the run's latest checkpoint when ``resume``).

        ``on_step(trainer)`` is called after every step (before checkpointing).
        """
        acc, cfg, run = self.accelerator, self.cfg, self.config.run
        if cfg.batch_size % (cfg.grad_accum * acc.num_processes):
            raise ConfigError(
                f"{self.stage}.batch_size {cfg.batch_size} must divide by grad_accum "
                f"({cfg.grad_accum}) x processes ({acc.num_processes})"
            )
        latest = ckpt.latest_checkpoint(self.run_dir)
        if latest is not None and not resume:
            raise FoleyError(
                f"{self.run_dir} already has checkpoints: pass --resume or a new --out"
            )
        with preserved_global_rng():
            seed = run.seed + acc.process_index
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            if latest is not None:
                self.load(latest)
            self._start_logs(resumed=latest is not None)
            with StopFlag() as stop:
                try:
                    interrupted = self._loop(stop, on_step)
                except NonFiniteLossError as e:
                    self.logs.close()
                    good = ckpt.latest_checkpoint(self.run_dir)
                    raise NonFiniteLossError(f"{e}; last good checkpoint: {good}") from None
            metrics = {} if interrupted else self._validate()
        skipped = self.skipped
        if skipped and self.is_main:
            log.warning("%s: %d unreadable clips were skipped", self.stage, skipped)
        self.logs.close()
        return TrainResult(
            self.stage,
            self.step,
            self.history,
            skipped,
            sorted(self._corrupt),
            ckpt.latest_checkpoint(self.run_dir),
            interrupted,
            metrics,
        )

    def _loop(self, stop: StopFlag, on_step: Callable[[Trainer], None] | None) -> bool:
        acc, cfg, run = self.accelerator, self.cfg, self.config.run
        dataset = self.train_dataset()
        batches = train_batches(
            dataset,
            cfg.batch_size // cfg.grad_accum,
            run.seed,
            acc.process_index,
            acc.num_processes,
            self.position,
            self.config.data.num_workers,
            self.collate_fn,
        )
        from tqdm import tqdm

        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc=self.stage,
            unit="step",
            file=sys.stderr,
            disable=not (self.is_main and run.progress),
            dynamic_ncols=True,
        )
        last_saved = self.step if self.step else -1
        window_start, window_samples = time.perf_counter(), 0
        try:
            while self.step < cfg.steps:
                micro = [next(batches) for _ in range(cfg.grad_accum)]
                for batch in micro:
                    self._skipped_here += batch["skipped"]
                    for key, value in batch.items():  # wav, or cached latents (ldm)
                        if isinstance(value, torch.Tensor) and key != "seed":
                            batch[key] = value.to(self.device)
                self._corrupt |= dataset.corrupt
                for model in self._models.values():
                    model.train()
                logs = self.train_step(micro)
                self.step += 1
                self.position += cfg.grad_accum
                window_samples += cfg.batch_size
                if self.step % run.log_every == 0 or self.step == cfg.steps:
                    elapsed = time.perf_counter() - window_start
                    row = self._log(logs, window_samples / max(elapsed, 1e-9))
                    bar.set_postfix(loss=f"{row['loss']:.4f}")
                    window_start, window_samples = time.perf_counter(), 0
                if cfg.val_every and self.step % cfg.val_every == 0 and self.step < cfg.steps:
                    self._validate()
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self._samples()
                bar.update(1)
                if on_step is not None:
                    on_step(self)
                stopping = self._agree(stop.signal is not None)
                if self.step % run.save_every == 0 or self.step == cfg.steps or stopping:
                    self.save()
                    last_saved = self.step
                if stopping:
                    log.warning("%s: stopped by a signal at step %d (saved)", self.stage, self.step)
                    return True
            if last_saved != self.step:
                self.save()
            return False
        finally:
            bar.close()

    def _agree(self, flag: bool) -> bool:
        """True on every process when any process has ``flag`` set."""
        return self.reduce_sum(int(flag)) > 0

    # ---- logging -----------------------------------------------------------------------------
    def _start_logs(self, resumed: bool) -> None:
        self.history = self.logs.start(self.step if resumed else None)
        if self.is_main and not resumed:
            info = {"stage": self.stage, "init": self.config.init, "preset": self.config.preset}
            (self.run_dir / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")
        if self.is_main:  # a resume's overrides (more steps, new data settings) are kept too
            save_config(self.config, self.run_dir / "config.yaml")

    def _log(self, logs: dict[str, torch.Tensor], samples_per_s: float) -> dict[str, float]:
        keys = sorted(logs)
        values = self.reduce_mean(
            torch.stack([logs[k].detach().float().reshape(()).cpu() for k in keys])
        )
        row = {"step": self.step, **{k: float(v) for k, v in zip(keys, values, strict=True)}}
        row.update(lr=self.lr(), samples_per_s=samples_per_s)
        self.history.append(row)
        self.logs.row(row)
        self.logs.scalars({k: v for k, v in row.items() if k != "step"}, self.step)
        return row

    def _validate(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if self.is_main:
            with torch.no_grad(), preserved_global_rng():
                metrics = self.validate()
            if metrics:
                self.logs.scalars(metrics, self.step, tag="val_")
                self.logs.row({"step": self.step, "validation": metrics})
        self.accelerator.wait_for_everyone()
        return metrics

    def _samples(self) -> None:
        writer = self.logs.writer()
        if writer is not None:
            with torch.no_grad(), preserved_global_rng():
                self.write_samples(writer)
        self.accelerator.wait_for_everyone()

    # ---- export ------------------------------------------------------------------------------
    def export(self, out_dir: str | Path, fp16: bool = False) -> Path:
        """Write the release pipeline folder (EMA weights, safetensors, model_index.json)."""
        from foleyldm.pipelines.loading import save_pipeline

        latest = ckpt.latest_checkpoint(self.run_dir)
        if latest is not None:
            self.load(latest, rng=False)
        pipe = self.export_pipeline().to("cpu")
        if fp16:
            pipe.to(dtype=torch.float16)
        save_pipeline(pipe, out_dir)
        return Path(out_dir)
