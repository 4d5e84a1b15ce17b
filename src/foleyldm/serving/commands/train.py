"""``foleyldm train STAGE`` and ``foleyldm export RUN_DIR OUT_DIR``: thin wrappers over
`foleyldm.training.runner`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from foleyldm.errors import FoleyError
from foleyldm.serving.cli import HelpFormatter

if TYPE_CHECKING:
    from foleyldm.training.config import Config

STAGE_CHOICES = ("clap", "vae", "vocoder", "ldm", "all")

_TRAIN_HELP = """\
Train one stage (clap, vae, vocoder, ldm) or all four in order (`all`, ending with a release
folder in RUN_DIR/export). Several processes: `accelerate launch --multi_gpu --num_processes N
-m foleyldm.serving.cli train ...` (gloo on CPU, NCCL on GPU); the global batch and the
results stay the same.

A run folder holds config.yaml, run.json, checkpoints/, log.jsonl and tensorboard/.
SIGTERM/SIGINT save a checkpoint and stop; --resume continues exactly where it stopped.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train a stage (clap, vae, vocoder, ldm) or all of them",
        formatter_class=HelpFormatter,
        description=_TRAIN_HELP,
    )
    p.add_argument("stage", choices=STAGE_CHOICES, help="what to train")
    p.add_argument("--config", default=None, help="recipe (YAML or JSON), e.g. recipes/tiny.yaml")
    p.add_argument("--data", default=None, help="JSONL manifest (sets data.manifest)")
    p.add_argument("--out", default=None, help="run folder; when not given, runs/STAGE")
    p.add_argument(
        "--init",
        default=None,
        help="start from this model folder, release name or preset (fine-tuning); for the ldm "
        "stage the VAE's stored latent scale is then kept",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run folder's latest checkpoint with its saved config",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. optim.lr=1e-4 (the stage's section) or "
        "run.mixed_precision=bf16; repeatable",
    )
    p.add_argument("--fp16", action="store_true", help="`all`: write the release in float16")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    e = sub.add_parser(
        "export",
        help="write a release model folder from a training run",
        formatter_class=HelpFormatter,
        description="Write the pipeline of a training run (a stage run or a `train all` run) as "
        "a model folder that `foleyldm generate --model OUT_DIR` runs: EMA weights, "
        "safetensors, model_index.json.",
    )
    e.add_argument("run_dir", help="a run folder written by `foleyldm train`")
    e.add_argument("out_dir", help="model folder to write (replaced atomically)")
    e.add_argument("--fp16", action="store_true", help="store UNet, VAE and vocoder in float16")
    e.set_defaults(func=_export)


def _config(args: argparse.Namespace, run_dir: Path) -> Config:
    from foleyldm.training.config import load_config

    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data.manifest={Path(args.data).resolve()}")
    if args.init is not None:
        init = Path(args.init)
        overrides.append(f"init={init.resolve() if init.exists() else args.init}")
    if args.quiet:
        overrides.append("run.progress=false")
    saved = run_dir / "config.yaml"
    if args.resume and saved.is_file():
        if args.config is not None:
            print(f"--resume: using the run's saved config {saved}", file=sys.stderr)
        path: str | Path | None = saved
    else:
        path = args.config
    stage = None if args.stage == "all" else args.stage
    return load_config(path, overrides, stage=stage)


def _is_main_process() -> bool:
    """False in the other processes of `accelerate launch` / torchrun (they print nothing)."""
    return os.environ.get("RANK", "0") == "0"


def _train(args: argparse.Namespace) -> int:
    from foleyldm.training.runner import train_all, train_stage

    run_dir = Path(args.out or Path("runs") / args.stage)
    config = _config(args, run_dir)
    if args.stage == "all":
        out = train_all(config, run_dir, resume=args.resume, fp16=args.fp16)
        if _is_main_process():
            print(out)
        return 0
    result = train_stage(args.stage, config, run_dir, resume=args.resume)
    last = result.history[-1] if result.history else {}
    summary = f"{args.stage}: step {result.step}"
    if "loss" in last:
        summary += f", loss {last['loss']:.4f}"
    if result.metrics:
        summary += ", " + ", ".join(f"val {k} {v:.4g}" for k, v in result.metrics.items())
    if result.skipped:
        summary += f", {result.skipped} unreadable clips skipped"
    if _is_main_process():
        print(summary, file=sys.stderr)
        print(run_dir)
    if result.interrupted:
        if _is_main_process():
            print(f"interrupted: resume with --resume --out {run_dir}", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0


def _export(args: argparse.Namespace) -> int:
    from foleyldm.training.runner import export_run

    if not Path(args.run_dir).is_dir():
        raise FoleyError(f"no run folder {args.run_dir}")
    print(export_run(args.run_dir, args.out_dir, fp16=args.fp16))
    return 0
