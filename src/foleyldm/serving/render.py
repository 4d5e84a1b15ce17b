"""Encode a finished clip for the wire: WAV/FLAC bytes and a spectrogram PNG.

The library's writers (`save_audio`, `save_spectrogram_png`) are the single owners of the
formats (16-bit PCM, clipping, the plot's look), so the server calls them on a scratch file of
its own naming and reads the bytes back. No name from a request is ever involved.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

from foleyldm.audio.io import save_audio
from foleyldm.serving.jobs import Clip

AudioFormat = Literal["wav", "flac"]
MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "png": "image/png"}

# pyplot keeps global state: one figure at a time across request threads.
_PLOT_LOCK = threading.Lock()


def via_file(suffix: str, write: Callable[[Path], object]) -> bytes:
    """Bytes that ``write(path)`` puts in a scratch file named ``clip{suffix}``."""
    with tempfile.TemporaryDirectory(prefix="foleyldm-serve-") as tmp:
        path = Path(tmp) / f"clip{suffix}"
        write(path)
        return path.read_bytes()


def render(clip: Clip, kind: Literal["wav", "flac", "png"]) -> bytes:
    """The clip as ``kind`` bytes, made once and cached on the clip."""
    cached = clip.renders.get(kind)
    if cached is not None:
        return cached
    if kind == "png":
        from foleyldm.audio.plot import save_spectrogram_png

        def write(path: Path) -> None:
            save_spectrogram_png(
                path, torch.from_numpy(clip.mel), clip.sample_rate, clip.hop_length, clip.title
            )

        with _PLOT_LOCK:
            data = via_file(".png", write)
    else:
        data = via_file(f".{kind}", lambda path: save_audio(path, clip.waveform, clip.sample_rate))
    clip.renders[kind] = data
    return data
