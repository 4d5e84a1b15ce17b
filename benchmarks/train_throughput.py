"""Training throughput: samples/s of every stage, per precision, at a recipe's sizes.

Each (stage, precision) runs in a fresh subprocess (Accelerate fixes mixed precision per
process), precisions interleaved stage by stage.
Per stage: the trainer is built from the preset (with the recipe's VAE compression), fed a
toy corpus of the recipe's clip length, and timed over ``--steps`` optimiser steps after
``--warmup`` steps (data loading included, checkpointing not). The VAE is timed without
and with its PatchGAN; the vocoder with its discriminators.

    python benchmarks/train_throughput.py                                 # foley-small
    python benchmarks/train_throughput.py --recipe recipes/tiny.yaml --steps 5
    python benchmarks/train_throughput.py --precisions fp32 --stages ldm --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}
VARIANTS = ("clap", "vae", "vae+gan", "vocoder", "ldm")


def run_one(args: argparse.Namespace, precision: str) -> list[dict[str, Any]]:
    import torch

    from foleyldm.pipelines.loading import build_pipeline
    from foleyldm.training.config import load_config
    from foleyldm.training.data import train_batches
    from foleyldm.training.runner import TRAINERS
    from foleyldm.training.runtime import make_accelerator, with_clap_window
    from foleyldm.training.toydata import write_toy_corpus
    from foleyldm.training.vae import resized_vae

    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [f"run.mixed_precision={PRECISIONS[precision]}", "run.tensorboard=false"]
    if args.batch:
        sets += [f"{s}.batch_size={args.batch}" for s in ("clap", "vae", "vocoder", "ldm")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(args.recipe, sets)
        seconds = max(config.stage(s).segment_seconds for s in ("clap", "vae", "vocoder", "ldm"))
        manifest = write_toy_corpus(Path(tmp) / "data", num_clips=24, seconds=seconds)
        sets.append(f"data.manifest={manifest}")
        accelerator = make_accelerator(config)
        for variant in args.stages:
            stage = variant.split("+")[0]
            config = load_config(args.recipe, sets)
            if variant == "vae":
                config.vae.disc_start = 10**9  # the autoencoder alone
            pipe = with_clap_window(
                build_pipeline(config.preset, seed=0, init="library"), config.clap.max_seconds
            )
            if config.vae.compression is not None:  # the latent geometry the recipe trains
                pipe.codec.vae = resized_vae(pipe.codec.vae, config.vae.compression, 0)
            trainer = TRAINERS[stage](config, Path(tmp) / variant, accelerator, pipe=pipe)
            if variant == "vae+gan":
                trainer.step = config.vae.disc_start  # the PatchGAN is on
            cfg = trainer.cfg
            batches = train_batches(trainer.train_dataset(), cfg.batch_size // cfg.grad_accum, 0)
            times = []
            for i in range(args.warmup + args.steps):
                start = time.perf_counter()
                micro = [next(batches) for _ in range(cfg.grad_accum)]
                for b in micro:
                    b["wav"] = b["wav"].to(trainer.device)
                trainer.train_step(micro)
                if i >= args.warmup:
                    times.append(time.perf_counter() - start)
            step = statistics.median(times)  # the machine is shared: the median resists bursts
            params = sum(
                p.numel()
                for m in trainer._models.values()
                for p in m.parameters()
                if p.requires_grad
            )
            rows.append(
                {
                    "stage": variant,
                    "precision": precision,
                    "batch": cfg.batch_size,
                    "seconds": cfg.segment_seconds,
                    "step_s": step,
                    "best_step_s": min(times),
                    "samples_per_s": cfg.batch_size / step,
                    "audio_s_per_s": cfg.batch_size * cfg.segment_seconds / step,
                    "params_m": params / 1e6,
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            del trainer
            accelerator.free_memory()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "foley-small.yaml"))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(PRECISIONS))
    ap.add_argument("--stages", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per stage (median)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--batch", type=int, default=None, help="override every stage's batch")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: one precision
    args = ap.parse_args()

    if args.one:
        print(json.dumps(run_one(args, args.one)))
        return
    rows: list[dict[str, Any]] = []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    load_before = os.getloadavg()[0]
    # Stage-major, precisions interleaved: a shared machine's load bursts hit both alike.
    for stage in args.stages:
        for precision in args.precisions:
            child = [sys.executable, __file__, "--one", precision, *sys.argv[1:]]
            child += ["--stages", stage]
            done = subprocess.run(child, env=env, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit(f"{stage} {precision}: the benchmark failed (exit {done.returncode})")
            rows += json.loads(done.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    import torch

    print(f"recipe {args.recipe}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    head = f"{'stage':9s} {'prec':5s} {'batch':>5s} {'clip s':>6s} {'M train':>8s}"
    print(f"{head} {'s/step':>7s} {'best':>6s} {'samples/s':>9s} {'audio s/s':>9s}")
    for r in rows:
        print(
            f"{r['stage']:9s} {r['precision']:5s} {r['batch']:5d} {r['seconds']:6.2f} "
            f"{r['params_m']:8.2f} {r['step_s']:7.2f} {r['best_step_s']:6.2f} "
            f"{r['samples_per_s']:9.2f} "
            f"{r['audio_s_per_s']:9.2f}"
        )


if __name__ == "__main__":
    main()
