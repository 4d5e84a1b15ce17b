"""Random synthesized clips with captions from their parameters, and a set writer.

`synth_clip(seed, index)` is a pure function: the same (seed, index) always gives the same
clip, on any machine and in any process, so a set of any size can be (re)made in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foleyldm.audio.io import save_audio
from foleyldm.data.manifest import ClipRecord, split_for, write_manifest
from foleyldm.data.synth import machines, modal, textures
from foleyldm.data.synth.dsp import normalize_peak
from foleyldm.data.synth.rooms import apply_room, random_room, room_impulse_response

MAX_SECONDS = 10.24


Made = tuple[np.ndarray, str, dict[str, Any], str]  # waveform, caption, params, category
Maker = Callable[[np.random.Generator, int], Made]


@dataclass
class SynthClip:
    waveform: np.ndarray  # [N] float32, peak 0.9
    sample_rate: int
    caption: str
    kind: str  # impact, scrape, roll, spring, rain, wind, stream, fire, engine, motor
    category: str  # e.g. "impact/metal", "rain"
    params: dict[str, Any] = field(default_factory=dict)


def _impact(rng: np.random.Generator, sr: int) -> Made:
    mat = str(rng.choice(list(modal.MATERIALS)))
    size = str(rng.choice(list(modal.SIZES)))
    strength = str(rng.choice(list(modal.STRENGTHS)))
    bounce = bool(rng.random() < 0.2)
    hits = 1 if bounce else int(rng.choice([1, 1, 1, 2, 3, 4]))
    seconds = 4.0 if mat in ("metal", "glass") else 2.5
    wav, cap, p = modal.impact(
        mat, size, strength, sr, rng, hits=hits, bounce=bounce, seconds=seconds
    )
    return wav, cap, p, f"impact/{mat}"


def _scrape(rng: np.random.Generator, sr: int) -> Made:
    mat = str(rng.choice(list(modal.MATERIALS)))
    wav, cap, p = modal.scrape(mat, str(rng.choice(["slowly", "quickly"])), sr, rng)
    return wav, cap, p, f"scrape/{mat}"


def _roll(rng: np.random.Generator, sr: int) -> Made:
    mat = str(rng.choice(["wood", "metal", "glass", "stone", "plastic"]))
    wav, cap, p = modal.roll(mat, str(rng.choice(["slowly", "quickly"])), sr, rng)
    return wav, cap, p, f"roll/{mat}"


def _spring(rng: np.random.Generator, sr: int) -> Made:
    wav, cap, p = modal.spring(sr, rng)
    return wav, cap, p, "spring"


def _texture(
    name: str, fn: Callable[..., textures.Render], choices: list[str]
) -> Callable[..., Any]:
    def make(rng: np.random.Generator, sr: int) -> Made:
        wav, cap, p = fn(str(rng.choice(choices)), sr, rng, seconds=float(rng.uniform(5, 10)))
        return wav, cap, p, name

    return make


def _rain(rng: np.random.Generator, sr: int) -> Made:
    seconds = float(rng.uniform(5, 10))
    wav, cap, p = textures.rain(str(rng.choice(list(textures.RAIN))), sr, rng, seconds=seconds)
    if rng.random() < 0.35:  # "light rain with distant wind"
        w, _, _ = textures.wind("gentle", sr, rng, seconds=seconds)
        wav = wav + 0.5 * w * np.abs(wav).max() / (np.abs(w).max() + 1e-12)
        cap, p = f"{cap} with distant wind", {**p, "wind": True}
    return wav, cap, p, "rain"


def _engine(rng: np.random.Generator, sr: int) -> Made:
    size = str(rng.choice(list(machines.ENGINES)))
    state = str(rng.choice(machines.ENGINE_STATES))
    wav, cap, p = machines.engine(size, state, sr, rng, seconds=float(rng.uniform(4, 8)))
    return wav, cap, p, "engine"


def _motor(rng: np.random.Generator, sr: int) -> Made:
    state = str(rng.choice(machines.MOTOR_STATES))
    wav, cap, p = machines.motor(state, sr, rng, seconds=float(rng.uniform(3, 6)))
    return wav, cap, p, "motor"


#: kind -> (weight, maker). Impacts get the most weight: the richest parameter space.
KINDS: dict[str, tuple[float, Maker]] = {
    "impact": (4.0, _impact),
    "scrape": (1.0, _scrape),
    "roll": (1.0, _roll),
    "spring": (0.5, _spring),
    "rain": (1.0, _rain),
    "wind": (1.0, _texture("wind", textures.wind, list(textures.WIND))),
    "stream": (1.0, _texture("stream", textures.stream, list(textures.STREAM))),
    "fire": (1.0, _texture("fire", textures.fire, list(textures.FIRE))),
    "engine": (1.0, _engine),
    "motor": (1.0, _motor),
}


def synth_clip(
    seed: int,
    index: int = 0,
    sample_rate: int = 16000,
    kind: str | None = None,
    room_prob: float = 0.3,
) -> SynthClip:
    """Clip number ``index`` of the set made with ``seed`` (any ``kind``, or a random one).

    With probability ``room_prob`` the clip is placed in a random room (or outdoors) and
    the room's phrase appended to the caption.
    """
    rng = np.random.default_rng([seed, index])
    names = list(KINDS)
    if kind is None:
        w = np.asarray([KINDS[k][0] for k in names])
        kind = str(rng.choice(names, p=w / w.sum()))
    elif kind not in KINDS:
        raise ValueError(f"unknown synth kind {kind!r}; choose from {names}")
    wav, caption, params, category = KINDS[kind][1](rng, sample_rate)
    if rng.random() < room_prob:
        room = random_room(rng)
        ir = room_impulse_response(room, sample_rate, rng)
        wav = apply_room(wav, ir, max_samples=int(MAX_SECONDS * sample_rate))
        caption = f"{caption}, {room.caption}" if room.outdoor else f"{caption} {room.caption}"
        params = {
            **params,
            "room": room.caption,
            "rt60": round(room.rt60, 3),
            "distance": round(room.distance, 2),
        }
    wav = normalize_peak(wav[: int(MAX_SECONDS * sample_rate)], 0.9).astype(np.float32)
    return SynthClip(wav, sample_rate, caption, kind, category, params)


def _write_one(job: tuple[int, int, str, int, float]) -> ClipRecord:
    seed, index, out_dir, sr, room_prob = job
    clip = synth_clip(seed, index, sr, room_prob=room_prob)
    path = Path(out_dir) / "clips" / f"{clip.kind}" / f"{seed}-{index:06d}.flac"
    save_audio(path, clip.waveform, sr)
    params = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in clip.params.items()}
    return ClipRecord(
        path=str(path.resolve()),
        duration=round(clip.waveform.shape[0] / sr, 6),
        sample_rate=sr,
        channels=1,
        captions=[clip.caption],
        labels=[clip.category, clip.kind],
        source="foleyldm-synth",
        license="CC0-1.0",
        split=split_for(f"synth/{seed}/{index}"),
        meta={"seed": seed, "index": index, "params": params},
    )


def write_synth_set(
    out_dir: str | os.PathLike[str],
    count: int,
    seed: int = 0,
    sample_rate: int = 16000,
    room_prob: float = 0.3,
    workers: int = 1,
) -> list[ClipRecord]:
    """Write ``count`` clips as FLAC under ``out_dir/clips/<kind>/``, and
    ``out_dir/manifest.jsonl``; ``workers`` processes render in parallel."""
    jobs = [(seed, i, os.fspath(out_dir), sample_rate, room_prob) for i in range(count)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            records = list(pool.map(_write_one, jobs, chunksize=4))
    else:
        records = [_write_one(j) for j in jobs]
    write_manifest(Path(out_dir) / "manifest.jsonl", records)
    return records
