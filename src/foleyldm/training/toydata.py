"""A toy corpus written on the spot: sine sweeps, noise bursts, clicks, hums and beeps.

For tests, smoke runs and the throughput benchmark: six sound classes that differ clearly
in a spectrogram, each with two captions and labels, as FLAC files and a JSONL manifest in
the manifest format of issue 4. Deterministic in ``seed``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from foleyldm.audio.io import save_audio

Synth = Callable[[np.random.Generator, np.ndarray, int], np.ndarray]


def _sweep(up: bool) -> Synth:
    def make(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
        lo, hi = rng.uniform(150, 400), rng.uniform(2500, 5000)
        f0, f1 = (lo, hi) if up else (hi, lo)
        k = (f1 / f0) ** (1 / t[-1])
        phase = 2 * math.pi * f0 * (k**t - 1) / math.log(k)
        return 0.6 * np.sin(phase)

    return make


def _noise_burst(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    env = np.zeros_like(t)
    start = rng.uniform(0, 0.3 * t[-1])
    length = rng.uniform(0.2, 0.5) * t[-1]
    env[(t >= start) & (t < start + length)] = 1.0
    return 0.5 * env * rng.standard_normal(t.shape)


def _clicks(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    x = np.zeros_like(t)
    period = int(sr / rng.uniform(6, 14))
    for start in range(int(rng.integers(0, period)), len(t), period):
        n = min(80, len(t) - start)
        x[start : start + n] = np.exp(-np.arange(n) / 12.0) * rng.choice([-1.0, 1.0])
    return 0.8 * x


def _hum(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    f = rng.uniform(90, 180)
    phases = rng.uniform(0, 6, size=3)
    return sum(
        (
            0.4 / h * np.sin(2 * math.pi * f * h * t + p)
            for h, p in zip((1, 2, 3), phases, strict=True)
        ),
        np.zeros_like(t),
    )


def _beeps(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    f = rng.uniform(1800, 3200)
    gate = (np.sin(2 * math.pi * rng.uniform(2, 4) * t) > 0).astype(np.float64)
    return 0.5 * gate * np.sin(2 * math.pi * f * t)


#: class -> (synth, captions, labels)
CLASSES: dict[str, tuple[Synth, tuple[str, ...], tuple[str, ...]]] = {
    "sweep_up": (_sweep(True), ("a rising sine sweep", "a tone gliding upwards"), ("sweep",)),
    "sweep_down": (_sweep(False), ("a falling sine sweep", "a tone gliding down"), ("sweep",)),
    "noise": (_noise_burst, ("a burst of white noise", "a short hiss"), ("noise",)),
    "clicks": (_clicks, ("a series of sharp clicks", "rapid ticking"), ("click",)),
    "hum": (_hum, ("a steady low hum", "a deep electrical buzz"), ("hum",)),
    "beeps": (_beeps, ("high pitched beeping", "an electronic beep repeating"), ("beep",)),
}


def write_toy_corpus(
    directory: str | Path,
    num_clips: int = 36,
    seconds: float = 1.28,
    sample_rate: int = 16000,
    seed: int = 0,
    valid_every: int = 4,
) -> Path:
    """Write ``num_clips`` FLAC clips (classes in turn) and ``manifest.jsonl``; return its path.

    Clips cycle through the classes; every ``valid_every``-th cycle goes to the "valid" split
    (so it holds every class once per cycle), the rest to "train".
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    rows = []
    names = list(CLASSES)
    for i in range(num_clips):
        name = names[i % len(names)]
        synth, captions, labels = CLASSES[name]
        wav = synth(rng, t, sample_rate) + 0.003 * rng.standard_normal(n)
        wav = np.clip(wav, -0.99, 0.99).astype(np.float32)
        rel = f"clips/{name}_{i:03d}.flac"
        save_audio(root / rel, wav, sample_rate)
        rows.append(
            {
                "path": rel,
                "duration": n / sample_rate,
                "sample_rate": sample_rate,
                "channels": 1,
                "captions": list(captions),
                "labels": list(labels),
                "source": "foleyldm-toy",
                "license": "CC0-1.0",
                "split": "valid" if (i // len(names)) % valid_every == valid_every - 1 else "train",
            }
        )
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest
