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
