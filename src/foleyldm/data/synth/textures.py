"""Filtered-noise and particle textures: rain, wind, a stream, fire.

Liquid sounds are mostly bubbles: a bubble of radius r rings at Minnaert's frequency
f ≈ 3.26/r Hz (r in metres) with a short rising chirp as it nears the surface (van den Doel,
"Physically-based models for liquid sounds", 2005). Rain adds drop clicks and a noise bed;
wind is noise through a resonant band-pass whose centre and level follow slow gusts; fire is
a low roar plus Poisson crackles with heavy-tailed strengths.
"""

from __future__ import annotations

import numpy as np

from foleyldm.data.synth.dsp import (
    add_event,
    bandpass,
    fade,
    highpass,
    lowpass,
    pink_noise,
    poisson_times,
    smooth_random,
)

Render = tuple[np.ndarray, str, dict[str, object]]


def bubble(radius_m: float, sr: int, rise: float = 0.1) -> np.ndarray:
    """One bubble: sin(2π f(t) t)·e^{-d t}, f(t) = f0(1 + rise·d·t), f0 = 3.26/r (Minnaert)."""
    f0 = 3.26 / radius_m
    d = 0.043 * f0 + 0.0014 * f0**1.5  # viscous + thermal + radiation damping (van den Doel)
    n = min(int(6.0 / d * sr), int(0.3 * sr))
    t = np.arange(n) / sr
    phase = 2 * np.pi * f0 * (t + rise * d * t**2 / 2)
    return np.sin(phase) * np.exp(-d * t)


def _bubbles(
    n: int, rate: float, r_range: tuple[float, float], sr: int, rng: np.random.Generator
) -> np.ndarray:
    out = np.zeros(n)
    for t in poisson_times(rate, n / sr, rng):
        r = float(np.exp(rng.uniform(np.log(r_range[0]), np.log(r_range[1]))))
        if 3.26 / r < 0.45 * sr:
            add_event(
                out,
                bubble(r, sr, rise=float(rng.uniform(0.0, 0.3))),
                int(t * sr),
                float(rng.uniform(0.2, 1.0)) * (r / r_range[1]) ** 0.5,
            )
    return out


RAIN = {"light": (40.0, 0.15), "moderate": (180.0, 0.4), "heavy": (700.0, 1.0)}


def rain(intensity: str, sr: int, rng: np.random.Generator, seconds: float = 8.0) -> Render:
    """Drops hitting water and hard ground (bubbles and clicks) over a noise bed."""
    rate, bed = RAIN[intensity]
    n = int(seconds * sr)
    out = 0.5 * _bubbles(n, rate * 0.4, (0.0012, 0.004), sr, rng)
    click = highpass(rng.standard_normal(int(0.004 * sr)), 1500, sr)
    click *= np.exp(-np.arange(click.shape[0]) / (0.0008 * sr))
    for t in poisson_times(rate, seconds, rng):
        add_event(out, click, int(t * sr), min(float(rng.pareto(3.0) + 0.2), 2.0) * 0.3)
    noise = bandpass(pink_noise(n, rng), 400, 7000, sr) * 0.04 * bed
    out += noise * (1 + 0.2 * smooth_random(n, 0.5, sr, rng))
    return (
        fade(out, sr, 0.2),
        f"{intensity} rain" + (" pouring" if intensity == "heavy" else " falling"),
        {"intensity": intensity},
    )


WIND = {
    "gentle": (0.3, 2.0, "a gentle breeze blowing"),
    "strong": (0.8, 5.0, "strong gusts of wind"),
    "howling": (0.9, 14.0, "wind howling"),
}


def wind(strength: str, sr: int, rng: np.random.Generator, seconds: float = 8.0) -> Render:
    """Noise through a resonant band-pass whose centre frequency and level follow gusts."""
    depth, q, caption = WIND[strength]
    n = int(seconds * sr)
    gust = 0.5 + 0.5 * smooth_random(n, 0.6, sr, rng)  # 0..1
    gust = lowpass(gust, 2.0, sr)
    centre = 250 + 900 * gust * depth
    src = pink_noise(n, rng)
    # time-varying band-pass: crossfade a bank of fixed bands by the current centre frequency
    bands = np.geomspace(200, 1400, 7)
    out = np.zeros(n)
    for fc in bands:
        w = np.exp(-0.5 * (np.log(centre / fc) / 0.25) ** 2)
        out += w * bandpass(src, fc * (1 - 0.5 / q), fc * (1 + 0.5 / q), sr)
    out += 0.15 * lowpass(src, 180, sr)
    out *= 0.2 + gust * depth
    return fade(out, sr, 0.3), caption, {"strength": strength}


STREAM = {
    "gentle": (250.0, "a gentle stream trickling"),
    "babbling": (900.0, "a babbling brook"),
    "rushing": (2500.0, "a rushing river"),
}


def stream(flow: str, sr: int, rng: np.random.Generator, seconds: float = 8.0) -> Render:
    """Running water: a dense population of bubbles plus a low noise bed."""
    rate, caption = STREAM[flow]
    n = int(seconds * sr)
    out = _bubbles(n, rate, (0.0015, 0.012), sr, rng)
    out /= np.sqrt(rate / 250.0)
    out += 0.05 * lowpass(pink_noise(n, rng), 1500, sr) * (rate / 900) ** 0.5
    return fade(out, sr, 0.2), caption, {"flow": flow}


FIRE = {
    "small": (8.0, 0.3, "a small campfire crackling"),
    "large": (25.0, 1.0, "a large fire roaring and crackling"),
}


def fire(size: str, sr: int, rng: np.random.Generator, seconds: float = 8.0) -> Render:
    """A roaring low band of noise with slow flicker, plus crackles (short decaying bursts
    with Pareto-distributed strengths, sometimes in quick clusters)."""
    rate, roar, caption = FIRE[size]
    n = int(seconds * sr)
    flicker = 1 + 0.5 * smooth_random(n, 3.0, sr, rng)
    out = roar * 0.06 * lowpass(pink_noise(n, rng), 300, sr) * flicker
    out += 0.01 * highpass(rng.standard_normal(n), 3000, sr) * flicker  # hiss
    for t in poisson_times(rate, seconds, rng):
        for k in range(int(rng.integers(1, 4))):
            m = int(rng.uniform(0.0005, 0.004) * sr) + 2
            burst = highpass(rng.standard_normal(m), float(rng.uniform(800, 3000)), sr)
            burst *= np.exp(-np.arange(m) / (m / 4))
            add_event(
                out,
                burst,
                int((t + k * rng.uniform(0.005, 0.03)) * sr),
                0.25 * min(float(rng.pareto(1.5) + 0.3), 4.0),
            )
    return fade(out, sr, 0.2), caption, {"size": size}
