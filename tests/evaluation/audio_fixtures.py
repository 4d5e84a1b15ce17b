"""Synthetic clips for backbone and CLI tests (no fixture files)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(freq: float = 440.0, seconds: float = 2.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def white_noise(seconds: float = 2.0, amp: float = 0.3, seed: int = 0, sr: int = SR) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def beeps(seconds: float = 2.0, freq: float = 1000.0, sr: int = SR) -> np.ndarray:
    """0.2 s beeps of a 1 kHz tone every 0.5 s."""
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t) * ((t % 0.5) < 0.2)).astype(np.float32)


def espeak(text: str) -> tuple[np.ndarray, int] | None:
    """Speech rendered by espeak-ng, or None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-w", str(path), text], check=True, capture_output=True)
        wav, sr = sf.read(path, dtype="float32")
    return wav, int(sr)


def harmonic_note(freq: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A decaying tone with five harmonics (an instrument-like note at ``freq``)."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6))
    return (0.3 * y * np.exp(-t)).astype(np.float32)


def write_prompt_set(folder: Path, rows: list[tuple[str, np.ndarray]], name: str = "set") -> Path:
    """``folder/<name>.csv`` (caption,path) with each row's clip written to
    ``folder/<name>_clips/<i>.wav``; returns the CSV's path."""
    clips = folder / f"{name}_clips"
    clips.mkdir(parents=True, exist_ok=True)
    lines = ["caption,path"]
    for i, (caption, wav) in enumerate(rows):
        sf.write(clips / f"{name}{i}.wav", wav, SR)
        lines.append(f'"{caption}",{clips.name}/{name}{i}.wav')
    path = folder / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path
