"""Offline variants of rare clips: more, and different, examples of a category with few
recordings.

Repeat-factor sampling (`foleyldm.training.data`) shows a rare clip more often, but always
the same clip: the built-in corpus has about 20 training dog barks among 6,000 clips, and a
small LDM shown those 20 recordings again and again still did not learn a bark. A variant
changes what one recording cannot:

- the caller's size: resampling by a factor f plays the clip f times faster, which moves
  pitch, formants and tempo together, as a smaller (f > 1) or bigger (f < 1) animal or
  object would;
- how many calls follow each other: a short clip is repeated 2-4 times with random gaps
  and level changes, the way barks, knocks and calls come in runs;
- the room (the synthetic rooms of `foleyldm.data.synth.rooms`, captioned as there);
- a quiet pink-noise background (20-35 dB below the clip, not captioned) and the level.

Only train-split clips are varied and every variant is a train clip, so nothing of a held-out
clip reaches training. A variant keeps its parent's captions, labels (so repeat-factor
sampling counts parent and variants as one category), source and licence, and names its
parent and parameters in ``meta``. `vary` is a pure function of its generator, so a set is
remade exactly from its seed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleyldm.audio.io import load_audio, resample, save_audio
from foleyldm.data.manifest import ClipRecord, write_manifest
from foleyldm.data.synth.dsp import normalize_peak, pink_noise
from foleyldm.data.synth.rooms import apply_room, random_room, room_impulse_response

MAX_SECONDS = 10.24
#: resampling factors are drawn log-uniformly from [1 / SIZE_RANGE, SIZE_RANGE]
SIZE_RANGE = 1.25
#: clips shorter than this may be repeated into a run of calls
SHORT_SECONDS = 1.5


def vary(
    wav: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    room_prob: float = 0.4,
    repeat_prob: float = 0.5,
    noise_prob: float = 0.3,
) -> tuple[np.ndarray, dict[str, Any], str]:
    """One random variant of a clip [N] -> (variant [M] float32, parameters, caption suffix).

    The suffix is "" or the room's phrase (", outdoors ..." / " in a ... room"), to append to
    each caption. The variant is at most `MAX_SECONDS` long, peak-normalised to 0.3-0.9.
    """
    x = np.asarray(wav, np.float64)
    factor = float(np.exp(rng.uniform(-np.log(SIZE_RANGE), np.log(SIZE_RANGE))))
    # a clip recorded at sr·f and played at sr is f times faster and higher
    y = resample(torch.from_numpy(x), round(sample_rate * factor), sample_rate).numpy()
    params: dict[str, Any] = {"speed": round(factor, 4)}
    max_n = int(MAX_SECONDS * sample_rate)
    if y.shape[0] < SHORT_SECONDS * sample_rate and rng.random() < repeat_prob:
        calls = int(rng.integers(2, 5))
        parts: list[np.ndarray] = []
        for i in range(calls):
            if i:
                parts.append(np.zeros(int(rng.uniform(0.1, 0.6) * sample_rate)))
            parts.append(y * 10 ** (rng.uniform(-4.0, 0.0) / 20))
        y = np.concatenate(parts)
        params["calls"] = calls
    suffix = ""
    if rng.random() < room_prob:
        room = random_room(rng)
        y = apply_room(y, room_impulse_response(room, sample_rate, rng), max_samples=max_n)
        suffix = f", {room.caption}" if room.outdoor else f" {room.caption}"
        params["room"] = room.caption
    y = y[:max_n]
    if rng.random() < noise_prob:
        snr_db = float(rng.uniform(20.0, 35.0))
        noise = pink_noise(y.shape[0], rng)
        p_sig, p_noise = float(np.mean(y**2)), float(np.mean(noise**2))
        if p_sig > 0 and p_noise > 0:
            y = y + noise * np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
            params["noise_snr_db"] = round(snr_db, 1)
    peak = round(float(rng.uniform(0.3, 0.9)), 3)
    params["peak"] = peak
    return normalize_peak(y, peak).astype(np.float32), params, suffix


def matching(records: Sequence[ClipRecord], pattern: str) -> list[ClipRecord]:
    """The train-split records whose captions or labels match ``pattern`` (case-insensitive)."""
    rx = re.compile(pattern, re.I)
    return [
        r
        for r in records
        if r.split == "train" and any(rx.search(t) for t in [*r.captions, *r.labels])
    ]


def _key(path: str) -> int:
    """A stable per-parent number for the generator (independent of the manifest's order)."""
    return int(hashlib.sha1(path.encode("utf-8")).hexdigest()[:12], 16)


def _write_variants(job: tuple[ClipRecord, int, int, str, int]) -> list[ClipRecord]:
    parent, copies, seed, out_dir, sample_rate = job
    wav, sr = load_audio(parent.path, sample_rate=sample_rate, max_seconds=MAX_SECONDS)
    stem, key = Path(parent.path).stem, _key(parent.path)
    tag = f"{key:012x}"[:8]
    out: list[ClipRecord] = []
    for k in range(copies):
        rng = np.random.default_rng([seed, key, k])
        y, params, suffix = vary(wav.numpy(), sr, rng)
        path = Path(out_dir) / "clips" / f"{stem}-{tag}-v{k:02d}.flac"
        save_audio(path, y, sr)
        out.append(
            ClipRecord(
                path=str(path.resolve()),
                duration=round(y.shape[0] / sr, 6),
                sample_rate=sr,
                channels=1,
                captions=[c + suffix for c in parent.captions],
                labels=list(parent.labels),
                source=parent.source,
                license=parent.license,
                split="train",
                meta={"variant_of": parent.path, "seed": seed, "index": k, "params": params},
            )
        )
    return out


def write_variants(
    records: Sequence[ClipRecord],
    out_dir: str | os.PathLike[str],
    pattern: str,
    copies: int,
    seed: int = 0,
    sample_rate: int = 16000,
    workers: int = 1,
) -> list[ClipRecord]:
    """Write ``copies`` variants of every train clip matching ``pattern`` as FLAC under
    ``out_dir/clips/`` and their manifest ``out_dir/manifest.jsonl``; returns the records.

    Raises:
        ValueError: ``copies`` < 1, or no train clip matches (a typo would otherwise write an
            empty set silently).
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    parents = matching(records, pattern)
    if not parents:
        raise ValueError(f"no train-split clip has a caption or label matching {pattern!r}")
    jobs = [(p, copies, seed, os.fspath(out_dir), sample_rate) for p in parents]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            made = list(pool.map(_write_variants, jobs))
    else:
        made = [_write_variants(j) for j in jobs]
    out = [r for group in made for r in group]
    write_manifest(Path(out_dir) / "manifest.jsonl", out)
    return out
