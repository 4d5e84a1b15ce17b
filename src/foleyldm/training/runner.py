"""Running stages: one stage, all four in order (``train all``), export, reopening a run.

``train all`` lays out ``RUN/``::

    run.json  config.yaml         the run's stage ("all") and resolved config
    clap/  vae/  vocoder/  ldm/   one run folder per stage (checkpoints, logs, TensorBoard)
    clap/export/ vae/export/ ...  each stage's pipeline, the next stage's starting point
    export/                       the release pipeline folder (the LDM stage's export)

Re-running with ``resume`` skips finished stages and continues the unfinished one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from accelerate import Accelerator

from foleyldm.errors import FoleyError
from foleyldm.training import checkpoint as ckpt
from foleyldm.training.base import RUN_INFO, Trainer, TrainResult, make_accelerator
from foleyldm.training.clap import ClapTrainer
from foleyldm.training.config import STAGES, Config, from_dict, read_config_file, save_config
from foleyldm.training.ldm import LDMTrainer
from foleyldm.training.vae import VAETrainer
from foleyldm.training.vocoder import VocoderTrainer

TRAINERS: dict[str, type[Trainer]] = {
    "clap": ClapTrainer,
    "vae": VAETrainer,
    "vocoder": VocoderTrainer,
    "ldm": LDMTrainer,
}
EXPORT = "export"


def train_stage(
    stage: str,
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    accelerator: Accelerator | None = None,
    on_step: Callable[[Trainer], None] | None = None,
) -> TrainResult:
    """Train one stage in ``run_dir`` (continuing its latest checkpoint when ``resume``)."""
    if stage not in TRAINERS:
        raise FoleyError(f"unknown stage {stage!r}; stages: {', '.join(TRAINERS)}")
    trainer = TRAINERS[stage](config, run_dir, accelerator)
    try:
        return trainer.fit(resume=resume, on_step=on_step)
    finally:
        trainer.accelerator.free_memory()


def train_all(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    accelerator: Accelerator | None = None,
    fp16: bool = False,
) -> Path:
    """CLAP, VAE, vocoder, LDM in order, each starting from the previous stage's export.

    Returns the release pipeline folder ``RUN/export`` (the LDM stage's export).
    """
    root = Path(run_dir).resolve()  # stage configs name their starting folders by path
    acc = accelerator or make_accelerator(config)
    if not resume and ckpt.latest_checkpoint(root / STAGES[0]) is not None:
        raise FoleyError(f"{root} already holds a run: pass --resume or a new --out")
    if acc.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        (root / RUN_INFO).write_text(json.dumps({"stage": "all", "init": config.init}) + "\n")
        save_config(config, root / "config.yaml")
    init = config.init
    for stage in STAGES:
        stage_dir = root / stage
        export_dir = root / EXPORT if stage == STAGES[-1] else stage_dir / EXPORT
        stage_config = dataclasses.replace(config, init=init)
        if stage == "ldm" and config.ldm.scale_factor is None:
            # The UNet is new even though it starts from a folder: measure the scale.
            stage_config.ldm = dataclasses.replace(config.ldm, scale_factor="auto")
        if not (resume and _finished(stage_dir, stage_config.stage(stage).steps, export_dir)):
            trainer = TRAINERS[stage](stage_config, stage_dir, acc)
            trainer.fit(resume=resume)
            if acc.is_main_process:
                trainer.export(export_dir, fp16=fp16 and stage == STAGES[-1])
            acc.wait_for_everyone()
            acc.free_memory()
        init = str(export_dir)
    return root / EXPORT


def _finished(stage_dir: Path, steps: int, export_dir: Path) -> bool:
    latest = ckpt.latest_checkpoint(stage_dir)
    if latest is None or not (export_dir / "model_index.json").is_file():
        return False
    return int(json.loads((latest / "meta.json").read_text())["step"]) >= steps


def open_run(run_dir: str | Path, accelerator: Accelerator | None = None) -> Trainer:
    """The trainer of a stage run folder, built from its saved config (not yet loaded)."""
    root = Path(run_dir)
    info_file = root / RUN_INFO
    if not info_file.is_file():
        raise FoleyError(f"{root} is not a training run (no {RUN_INFO})")
    stage = json.loads(info_file.read_text())["stage"]
    if stage == "all":
        return open_run(root / STAGES[-1], accelerator)
    config: Config = from_dict(Config, read_config_file(root / "config.yaml"))
    return TRAINERS[stage](config, root, accelerator)


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    fp16: bool = False,
    accelerator: Accelerator | None = None,
) -> Path:
    """Write the release pipeline of a run (a stage run, or a ``train all`` run)."""
    trainer = open_run(run_dir, accelerator)
    if ckpt.latest_checkpoint(trainer.run_dir) is None:
        raise FoleyError(f"{trainer.run_dir} has no checkpoint to export yet")
    return trainer.export(out_dir, fp16=fp16)
