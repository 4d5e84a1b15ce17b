"""Small signal helpers shared by the synthesizers: filters, events, envelopes, analysis.

Everything is numpy float64 at a given sample rate and takes a `numpy.random.Generator`
for randomness (never the global RNG), so a clip is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def bandpass(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    """Butterworth band-pass (second-order sections); the band is clipped to (1 Hz, Nyquist)."""
    nyq = sr / 2
    lo, hi = max(lo, 1.0), min(hi, nyq * 0.99)
    if hi <= lo * 1.01:
        return np.zeros_like(x)
    sos = signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    return np.asarray(signal.sosfilt(sos, x))


def lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    cutoff = min(max(cutoff, 1.0), sr / 2 * 0.99)
    sos = signal.butter(order, cutoff, btype="lowpass", fs=sr, output="sos")
    return np.asarray(signal.sosfilt(sos, x))


def highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    cutoff = min(max(cutoff, 1.0), sr / 2 * 0.99)
    sos = signal.butter(order, cutoff, btype="highpass", fs=sr, output="sos")
    return np.asarray(signal.sosfilt(sos, x))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by spectral shaping of white noise, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def smooth_random(n: int, rate_hz: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A slowly varying random curve in about [-1, 1]: noise interpolated at ``rate_hz``."""
    k = max(2, int(n / sr * rate_hz) + 2)
    knots = rng.uniform(-1, 1, k)
    return np.interp(np.arange(n), np.linspace(0, n - 1, k), knots)


def resonator_bank(
    x: np.ndarray, freqs: np.ndarray, decays: np.ndarray, gains: np.ndarray, sr: int
) -> np.ndarray:
    """Drive two-pole resonators (one per mode) with ``x``: modal filtering of an excitation.

    Each mode k rings at ``freqs[k]`` Hz with amplitude decay rate ``decays[k]`` (1/s) and
    gain ``gains[k]``; an impulse in gives Σ g_k·e^{-d_k t}·sin(2π f_k t).
    """
    out = np.zeros_like(x)
    for f, d, g in zip(freqs, decays, gains, strict=True):
        r = np.exp(-d / sr)
        theta = 2 * np.pi * f / sr
        b = [g * np.sin(theta)]
        a = [1.0, -2 * r * np.cos(theta), r * r]
        out += signal.lfilter(b, a, x)
    return out


def add_event(out: np.ndarray, kernel: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``gain·kernel`` into ``out`` at sample ``start`` (clipped at both ends)."""
    if start >= out.shape[0] or start + kernel.shape[0] <= 0:
        return
    k0 = max(0, -start)
    s = max(0, start)
    e = min(out.shape[0], start + kernel.shape[0])
    out[s:e] += gain * kernel[k0 : k0 + e - s]


def poisson_times(rate_hz: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Event times (s) of a Poisson process of ``rate_hz`` over ``seconds``."""
    n = rng.poisson(rate_hz * seconds)
    return np.sort(rng.uniform(0, seconds, n))


def fade(x: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    """Short raised-cosine fade-in and fade-out (no clicks at the clip edges)."""
    n = min(int(seconds * sr), x.shape[0] // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def normalize_peak(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    top = float(np.abs(x).max(initial=0.0))
    return x * (peak / top) if top > 0 else x


# ---- analysis (used by tests and to check the synthesizers by measurement) ----------------
def energy_decay_db(x: np.ndarray) -> np.ndarray:
    """Schroeder backward integration: the energy decay curve in dB (0 dB at the start)."""
    e = np.cumsum((np.asarray(x, np.float64) ** 2)[::-1])[::-1]
    return 10 * np.log10(e / (e[0] + 1e-300) + 1e-300)


def decay_time(x: np.ndarray, sr: int, start_db: float = -5.0, stop_db: float = -25.0) -> float:
    """T60 (s) from the slope of the Schroeder curve between ``start_db`` and ``stop_db``.

    ``-5 .. -25`` is ISO 3382's T20, ``-5 .. -35`` its T30. Measured from the curve's
    maximum, so leading silence does not matter.
    """
    edc = energy_decay_db(x)
    idx = np.nonzero((edc <= start_db) & (edc >= stop_db))[0]
    if idx.shape[0] < 4:
        raise ValueError("signal too short or decay range not reached for a T60 fit")
    t = idx / sr
    slope = np.polyfit(t, edc[idx], 1)[0]
    return float(-60.0 / slope)


def spectral_peaks(x: np.ndarray, sr: int, floor_db: float = -20.0) -> np.ndarray:
    """Frequencies (Hz) of local maxima of the magnitude spectrum within ``floor_db`` of the
    strongest, ascending."""
    n = 1 << int(np.ceil(np.log2(max(x.shape[0], 2))))
    mag = np.abs(np.fft.rfft(x * np.hanning(x.shape[0]), n))
    db = 20 * np.log10(mag / (mag.max() + 1e-300) + 1e-300)
    peaks, _ = signal.find_peaks(db, height=floor_db)
    return np.fft.rfftfreq(n, 1 / sr)[peaks]


def fundamental_hz(x: np.ndarray, sr: int, floor_db: float = -20.0) -> float:
    """The lowest strong spectral peak (Hz): the fundamental of a struck object."""
    peaks = spectral_peaks(x, sr, floor_db)
    if peaks.shape[0] == 0:
        raise ValueError("no spectral peak found")
    return float(peaks[0])
