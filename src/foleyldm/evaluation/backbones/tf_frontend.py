"""The log-mel front end of Google's AudioSet models (VGGish, YAMNet), in numpy.

These models were trained on their own front end, so it is reproduced here rather than
taken from `foleyldm.audio.mel` (which owns the AudioLDM/Slaney front end): 16 kHz, 25 ms
frames with a 10 ms hop and no centre padding, periodic Hann, |rfft| with n_fft 512, 64 HTK
mel bands 125–7500 Hz whose triangles are built on the mel axis with the DC bin zeroed
(``tf.signal.linear_to_mel_weight_matrix`` = VGGish's ``spectrogram_to_mel_matrix``), then
``log(mel + offset)`` (VGGish 0.01, YAMNet 0.001). Patches are [96 frames, 64 bands].
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
PATCH_FRAMES = 96


def hz_to_mel_htk(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@functools.cache
def mel_matrix(
    n_mels: int = N_MELS,
    n_fft: int = N_FFT,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """[n_fft // 2 + 1, n_mels] weights (tf.signal.linear_to_mel_weight_matrix)."""
    bins = n_fft // 2 + 1
    spec_mel = hz_to_mel_htk(np.linspace(0.0, sample_rate / 2, bins))
    edges = np.linspace(hz_to_mel_htk(np.array(fmin)), hz_to_mel_htk(np.array(fmax)), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slope = (spec_mel[:, None] - lower) / (center - lower)
    upper_slope = (upper - spec_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    weights[0] = 0.0  # the DC bin carries no band
    weights.setflags(write=False)
    return weights


def frame(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Non-padded frames of the first axis: [N, ...] -> [1 + (N - length) // hop, length, ...]."""
    count = 1 + (x.shape[0] - length) // hop
    if count < 1:
        return np.zeros((0, length, *x.shape[1:]), dtype=x.dtype)
    idx = np.arange(length)[None, :] + hop * np.arange(count)[:, None]
    return x[idx]


def log_mel(wav: np.ndarray, log_offset: float) -> np.ndarray:
    """Log-mel of a 16 kHz clip [N] -> [T, 64] (float32), T = 1 + (N - 400) // 160."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    frames = frame(np.asarray(wav, dtype=np.float64), WINDOW, HOP) * window
    magnitude = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1))
    return np.log(magnitude @ mel_matrix() + log_offset).astype(np.float32)


def patches(log_mel_frames: np.ndarray, hop: int) -> np.ndarray:
    """[T, 64] -> [P, 96, 64] patches every ``hop`` frames (incomplete tail dropped)."""
    return frame(log_mel_frames, PATCH_FRAMES, hop)
