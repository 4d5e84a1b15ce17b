"""Audio files in and out: load, resample, normalise, pad and save.

Everything returns float32 ``torch.Tensor`` waveforms with time on the last axis. Problems
with a file (missing, unreadable, empty, non-finite samples) raise `AudioError` with one
line naming the file, so the CLI and the server can show it as is.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr
import torch

from foleyldm.errors import FoleyError
from foleyldm.fileutil import atomic_open

AudioSource = str | os.PathLike[str] | BinaryIO | bytes

_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
_DEFAULT_SUBTYPE = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}


class AudioError(FoleyError, ValueError):
    """An audio file that cannot be read or written; the message is one line naming it."""


def _describe(source: object) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str) else "<in-memory audio>"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def load_audio(
    path: AudioSource,
    sample_rate: int | None = 16000,
    mono: bool = True,
    channel: int | None = None,
    normalize: bool = False,
    max_seconds: float | None = None,
) -> tuple[torch.Tensor, int]:
    """Read an audio file (anything soundfile reads: wav, flac, ogg, ...) as float32.

    Args:
        path: a file path, an open binary file-like object, or the file's bytes.
        sample_rate: resample to this rate (soxr, "VHQ"); ``None`` keeps the file's rate.
        mono: average the channels into one.
        channel: take this channel only (negative counts from the end); overrides ``mono``.
        normalize: apply `normalize_waveform` (the AudioLDM peak-0.5 normalisation).
        max_seconds: read at most this many seconds from the start.

    Returns:
        ``(wav, sample_rate)`` with wav [N] when ``mono`` or ``channel`` is set, else [C, N].

    Raises:
        AudioError: missing, unreadable or empty file, NaN/Inf samples, bad channel index.
    """
    name = _describe(path)
    if isinstance(path, bytes | bytearray):
        path = io.BytesIO(path)
    elif isinstance(path, str | os.PathLike):
        if not os.path.exists(path):
            raise AudioError(f"{name}: file not found")
        if os.path.isdir(path):
            raise AudioError(f"{name}: is a directory, not an audio file")
    if max_seconds is not None and max_seconds <= 0:
        raise AudioError(f"{name}: max_seconds must be positive, got {max_seconds}")
    try:
        with sf.SoundFile(path) as f:
            sr = int(f.samplerate)
            frames = -1 if max_seconds is None else round(max_seconds * sr)
            data = f.read(frames=frames, dtype="float32", always_2d=True)  # [N, C]
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(
            f"{name}: not an audio file soundfile can read ({_one_line(err)})"
        ) from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: empty audio (0 samples)")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    num_channels = data.shape[1]
    if channel is not None:
        if not -num_channels <= channel < num_channels:
            raise AudioError(
                f"{name}: channel {channel} out of range for a {num_channels}-channel file"
            )
        index = channel % num_channels
        data = data[:, index : index + 1]
    elif mono:
        data = data.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    if sample_rate is not None and sample_rate != sr:
        data = soxr.resample(data, sr, sample_rate, quality="VHQ")
        sr = sample_rate
    wav = torch.from_numpy(np.ascontiguousarray(data.T, dtype=np.float32))  # [C, N]
    if mono or channel is not None:
        wav = wav[0]
    if normalize:
        wav = normalize_waveform(wav)
    return wav, sr


def resample(wav: torch.Tensor, orig_sr: int, target_sr: int) -> torch.Tensor:
    """Resample with soxr ("VHQ") along the last axis; not differentiable.

    Args:
        wav: waveform [..., N] (any leading shape, any device).
        orig_sr: its sample rate.
        target_sr: the wanted sample rate.

    Returns:
        [..., M] with M ≈ N·target_sr/orig_sr, float32 (float64 kept), on ``wav``'s device.
        The input itself when the rates are equal.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return wav
    dtype = torch.float64 if wav.dtype == torch.float64 else torch.float32
    lead, n = wav.shape[:-1], wav.shape[-1]
    if wav.numel() == 0:
        m = round(n * target_sr / orig_sr)
        return torch.zeros(*lead, m, dtype=dtype, device=wav.device)
    x = wav.detach().to("cpu", dtype).reshape(-1, n).numpy()
    y = soxr.resample(x.T, orig_sr, target_sr, quality="VHQ")  # soxr wants [N, channels]
    out = torch.from_numpy(np.ascontiguousarray(y.T))
    return out.reshape(*lead, out.shape[-1]).to(wav.device)


def normalize_waveform(wav: torch.Tensor, peak: float = 0.5, eps: float = 1e-8) -> torch.Tensor:
    """AudioLDM's normalisation: ``(x - mean) / (max|x - mean| + eps) * peak``.

    Silent or constant clips give zeros, never NaN. The centring runs in float64, so a
    constant clip centres to exactly zero instead of to rounding noise that would then be
    blown up to full scale.

    Args:
        wav: waveform [..., N]; each row is normalised on its own.
        peak: target peak amplitude.
        eps: added to the peak in the denominator (the reference's 1e-8).

    Returns:
        [..., N], same dtype as ``wav`` (float32 for integer input).
    """
    out_dtype = wav.dtype if wav.is_floating_point() else torch.float32
    work = torch.float32 if wav.device.type == "mps" else torch.float64
    x = wav.to(work)
    x = x - x.mean(dim=-1, keepdim=True)
    top = x.abs().amax(dim=-1, keepdim=True)
    y = torch.where(top > 0, x / (top + eps) * peak, torch.zeros_like(x))
    return y.to(out_dtype)


def pad_or_trim(wav: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Zero-pad at the end or crop to ``num_samples`` along the last axis ([..., N] -> [..., M])."""
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    n = wav.shape[-1]
    if n >= num_samples:
        return wav[..., :num_samples]
    return torch.nn.functional.pad(wav, (0, num_samples - n))


def save_audio(
    path: str | os.PathLike[str],
    wav: torch.Tensor | np.ndarray,
    sample_rate: int,
    subtype: str | None = None,
) -> Path:
    """Write a waveform atomically (temporary file in the same folder, then `os.replace`).

    Args:
        path: destination; the suffix picks the format (.wav, .flac, .ogg). Parent folders
            are created.
        wav: [N], [C, N] or with extra leading singleton axes such as [1, 1, N]; torch or
            numpy, values in [-1, 1] (clipped there for integer PCM subtypes).
        sample_rate: samples per second.
        subtype: soundfile subtype, e.g. "PCM_16" (default for wav/flac), "PCM_24",
            "FLOAT"; ogg defaults to "VORBIS".

    Returns:
        The path written.

    Raises:
        AudioError: unknown suffix or subtype, bad shape, NaN/Inf samples, failed write. An
            existing file at ``path`` is left untouched on any failure.
    """
    dest = Path(path)
    fmt = _FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise AudioError(f"{dest}: unsupported suffix {dest.suffix!r} (use {sorted(_FORMATS)})")
    subtype = subtype.upper() if subtype is not None else _DEFAULT_SUBTYPE[fmt]
    if not sf.check_format(fmt, subtype):
        raise AudioError(f"{dest}: format {fmt} cannot store subtype {subtype}")
    if sample_rate <= 0:
        raise AudioError(f"{dest}: sample rate must be positive, got {sample_rate}")
    data = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim not in (1, 2) or data.shape[-1] == 0 or (data.ndim == 2 and data.shape[0] > 64):
        raise AudioError(f"{dest}: expected a non-empty waveform [N] or [C, N], got {data.shape}")
    data = data.astype(np.float64 if subtype == "DOUBLE" else np.float32, copy=False)
    if not np.isfinite(data).all():
        raise AudioError(f"{dest}: refusing to write NaN or Inf samples")
    if subtype not in _FLOAT_SUBTYPES:
        data = np.clip(data, -1.0, 1.0)  # libsndfile wraps around on integer overflow
    frames = data.T if data.ndim == 2 else data  # soundfile wants [N, C]

    try:
        with atomic_open(dest) as fh:
            sf.write(fh, frames, sample_rate, subtype=subtype, format=fmt)
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        raise AudioError(f"{dest}: could not write audio ({_one_line(err)})") from err
    return dest
