"""Training checkpoints: everything needed to resume, written atomically.

Layout of ``RUN/checkpoints/step_00001000/``::

    model-<name>.safetensors   weights of each trained model
    ema-<name>.safetensors     its EMA copy, when it has one
    state.pt                   optimisers, LR schedulers, EMA counters, step, data position
    rng-<rank>.pt              each process's RNG states (torch, CUDA, python, numpy)
    meta.json                  step and world size, for people and tools

A checkpoint is written into a temporary sibling folder and renamed into place, then
``RUN/checkpoints/latest`` is replaced; a crash at any moment leaves the previous checkpoint
intact. ``.pt`` files are read with ``weights_only=True`` (never unpickle arbitrary code).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from foleyldm.errors import CheckpointError
from foleyldm.fileutil import atomic_open

CHECKPOINTS = "checkpoints"
LATEST = "latest"


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


# ---- RNG ------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """This process's RNG states in types ``torch.load(weights_only=True)`` accepts."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            *(float(x) if isinstance(x, float) else int(x) for x in np_state[2:]),
        ],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- save -----------------------------------------------------------------------------------
def save_checkpoint(
    run_dir: Path,
    step: int,
    tensors: dict[str, dict[str, torch.Tensor]],
    objects: dict[str, Any],
    *,
    rank: int = 0,
    world: int = 1,
    barrier: Callable[[], None] = lambda: None,
    keep: int = 2,
) -> Path:
    """Write a checkpoint (every process calls this; the main process writes the shared files).

    Args:
        tensors: file stem (``model-unet``) -> flat tensor dict, written as safetensors.
        objects: the rest (optimiser / scheduler state dicts, counters), as ``state.pt``.
        keep: how many checkpoints to keep (older ones are deleted after the new one lands).
    """
    root = run_dir / CHECKPOINTS
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{step_dir_name(step)}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), tmp / f"rng-{rank}.pt")
    if rank == 0:
        for stem, state in tensors.items():
            flat = {k: v.detach().cpu().contiguous() for k, v in state.items()}
            save_file(flat, str(tmp / f"{stem}.safetensors"), metadata={"format": "pt"})
        torch.save(objects, tmp / "state.pt")
        meta = {"step": step, "world_size": world, "time": time.time()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    barrier()
    if rank == 0:
        _fsync_dir(tmp)
        if final.exists():  # a re-run of the same step: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        with atomic_open(root / LATEST) as fh:
            fh.write(final.name.encode())
        for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def _fsync_dir(directory: Path) -> None:
    for f in directory.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


# ---- load -----------------------------------------------------------------------------------
def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step_*") if (p / "state.pt").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``latest`` names (or the newest complete one), None for a fresh run."""
    pointer = run_dir / CHECKPOINTS / LATEST
    if pointer.is_file():
        named = run_dir / CHECKPOINTS / pointer.read_text().strip()
        if (named / "state.pt").is_file():
            return named
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def load_tensors(checkpoint: Path, stem: str) -> dict[str, torch.Tensor] | None:
    path = checkpoint / f"{stem}.safetensors"
    return load_file(str(path)) if path.is_file() else None


def load_objects(checkpoint: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = torch.load(checkpoint / "state.pt", weights_only=True)
    except (OSError, RuntimeError) as e:
        raise CheckpointError(f"cannot read {checkpoint / 'state.pt'}: {e}") from None
    return state


def load_rng(checkpoint: Path, rank: int) -> dict[str, Any] | None:
    path = checkpoint / f"rng-{rank}.pt"
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, weights_only=True)
    return state
