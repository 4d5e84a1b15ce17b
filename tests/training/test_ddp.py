"""Two processes (``accelerate launch``, gloo on CPU) train the LDM stage with the same loss
curve as one process with the same global batch.

Every sample's clip, crop, caption, noise, timestep and condition dropout come from its
position in the global stream, and DDP averages the gradients of equal halves of the
batch, so the two runs compute the same function; they differ only by float rounding in
the gradient all-reduce and in batch-size-dependent kernels (measured: ~2e-7 relative).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from safetensors.torch import load_file

from foleyldm.training.runner import train_stage

from .conftest import TINY_RECIPE, tiny_config

STEPS = 4
RELATIVE_TOLERANCE = 1e-4


def test_two_processes_match_one(corpus, tmp_path) -> None:
    overrides = [f"ldm.steps={STEPS}", "run.tensorboard=false", "run.progress=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "foleyldm.serving.cli",
    ]
    train = ["train", "ldm", "--config", str(TINY_RECIPE), "--data", str(corpus)]
    args = [*train, "--out", str(tmp_path / "two"), *(x for o in overrides for x in ("--set", o))]
    done = subprocess.run([*launch, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    one = train_stage("ldm", tiny_config(corpus, *overrides), tmp_path / "one")
    rows = [json.loads(x) for x in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    two = [r["loss"] for r in rows if "loss" in r and "validation" not in r]
    ref = [r["loss"] for r in one.history]
    assert len(two) == len(ref) == STEPS
    diffs = [abs(a - b) / abs(b) for a, b in zip(two, ref, strict=True)]
    print(f"1 process {ref}\n2 processes {two}\nmax relative difference {max(diffs):.2e}")
    assert max(diffs) < RELATIVE_TOLERANCE

    # Weights: whole-model relative L2 distance. (Per tensor it is no measure: Adam turns
    # the rounding noise of gradients that are zero in exact arithmetic, e.g. attention key
    # biases, into full-size +-lr updates.)
    last = f"checkpoints/step_{STEPS:08d}/model-unet.safetensors"
    wa, wb = load_file(tmp_path / "one" / last), load_file(tmp_path / "two" / last)
    delta = sum(float((wa[k] - wb[k]).pow(2).sum()) for k in wa) ** 0.5
    norm = sum(float(wa[k].pow(2).sum()) for k in wa) ** 0.5
    print(f"relative L2 distance of the weights after {STEPS} steps {delta / norm:.2e}")
    assert delta / norm < 1e-3
    meta = json.loads((tmp_path / "two" / f"checkpoints/step_{STEPS:08d}/meta.json").read_text())
    assert meta["world_size"] == 2
    assert (tmp_path / "two" / f"checkpoints/step_{STEPS:08d}/rng-1.pt").is_file()
