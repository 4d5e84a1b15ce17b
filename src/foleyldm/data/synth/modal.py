"""Modal synthesis of solid objects: impacts, scraping, rolling, and a mass–spring "boing".

A struck object rings as a sum of damped sinusoids (its modes). The material sets the mode
frequency ratios (the shape a material usually comes in: wooden bars, metal plates, glass
bowls), the loss factor η (a mode at f Hz decays at π·f·η per second, so T60 = 2.2/(f·η);
metal and glass ring for seconds, wood and plastic for tenths) and the "speed" that turns
the object's size into a fundamental (f0 = speed / size: bigger is lower). The strike's
strength sets how bright (how much energy reaches high modes) and how short the contact is.
Scraping and rolling drive the same modes with a continuous excitation instead of a pulse
(van den Doel et al., "FoleyAutomatic", SIGGRAPH 2001).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from foleyldm.data.synth.dsp import (
    add_event,
    bandpass,
    fade,
    lowpass,
    resonator_bank,
    smooth_random,
)


@dataclass(frozen=True)
class Material:
    """Acoustic character of a material (per-mode loss factor η grows with frequency)."""

    name: str
    adjective: str
    ratios: tuple[float, ...]  # mode frequencies / fundamental
    loss: float  # loss factor η of the fundamental
    loss_slope: float  # η_k = loss · (1 + loss_slope · (ratio_k − 1))
    speed: float  # f0 = speed / size_m  (Hz·m)
    objects: tuple[str, ...]
    contact_noise: float  # share of a noisy "knock" in the attack


MATERIALS: dict[str, Material] = {
    # free–free bar (xylophone-like) ratios; heavy internal damping
    "wood": Material(
        "wood",
        "wooden",
        (1.0, 2.756, 5.404, 8.933, 13.34),
        0.035,
        0.3,
        60.0,
        ("block", "plank", "box", "stick"),
        0.35,
    ),
    # circular plate ratios; very light damping
    "metal": Material(
        "metal",
        "metal",
        (1.0, 1.594, 2.136, 2.296, 2.653, 2.918, 3.156, 3.501, 4.060, 4.600),
        0.0009,
        0.5,
        90.0,
        ("plate", "pan", "pipe", "bell"),
        0.05,
    ),
    # wine-glass / bowl ratios
    "glass": Material(
        "glass",
        "glass",
        (1.0, 2.32, 4.25, 6.63, 9.38),
        0.0025,
        0.6,
        140.0,
        ("bowl", "bottle", "jar"),
        0.1,
    ),
    "stone": Material(
        "stone",
        "stone",
        (1.0, 1.83, 2.61, 3.52, 4.36, 5.1),
        0.012,
        0.8,
        110.0,
        ("slab", "rock", "tile"),
        0.45,
    ),
    "plastic": Material(
        "plastic",
        "plastic",
        (1.0, 1.65, 2.87, 4.11, 5.6),
        0.05,
        0.4,
        45.0,
        ("box", "bucket", "cup"),
        0.4,
    ),
}

SIZES: dict[str, tuple[float, float]] = {  # characteristic length in metres
    "small": (0.05, 0.12),
    "medium": (0.15, 0.35),
    "large": (0.45, 1.0),
}
STRENGTHS: dict[str, tuple[float, float, str]] = {  # (tilt β, contact time s, caption phrase)
    "light": (1.6, 0.003, "tapped lightly"),
    "medium": (1.1, 0.0015, "struck"),
    "hard": (0.6, 0.0005, "struck hard"),
}
_COUNT_WORDS = {1: "", 2: " twice", 3: " three times", 4: " four times", 5: " five times"}


@dataclass(frozen=True)
class Modes:
    freqs: np.ndarray  # Hz
    decays: np.ndarray  # amplitude decay rate, 1/s
    gains: np.ndarray


def object_modes(
    material: Material,
    size_m: float,
    sr: int,
    rng: np.random.Generator,
    tilt: float = 1.1,
) -> Modes:
    """Modes of an object: f_k = f0·ratio_k (±1 % detuning), d_k = π·f_k·η_k, gains ∝ r^-tilt.

    Modes above 0.45·sr are dropped; f0 = speed / size, clamped to 40–4000 Hz.
    """
    f0 = float(np.clip(material.speed / size_m, 40.0, 4000.0))
    ratios = np.asarray(material.ratios) * (1 + rng.uniform(-0.01, 0.01, len(material.ratios)))
    ratios[0] = 1.0
    freqs = f0 * ratios
    keep = freqs < 0.45 * sr
    freqs, ratios = freqs[keep], ratios[keep]
    eta = material.loss * (1 + material.loss_slope * (ratios - 1))
    decays = np.pi * freqs * eta
    gains = ratios**-tilt * rng.uniform(0.6, 1.0, ratios.shape[0])  # strike position
    gains[0] = ratios[0] ** -tilt
    return Modes(freqs, decays, gains)


def render_modes(modes: Modes, seconds: float, sr: int) -> np.ndarray:
    """Impulse response Σ g_k·e^{-d_k t}·sin(2π f_k t) of length ``seconds``."""
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for f, d, g in zip(modes.freqs, modes.decays, modes.gains, strict=True):
        out += g * np.exp(-d * t) * np.sin(2 * np.pi * f * t)
    return out


def impact(
    material: str,
    size: str,
    strength: str,
    sr: int,
    rng: np.random.Generator,
    *,
    hits: int = 1,
    bounce: bool = False,
    seconds: float = 3.0,
    size_m: float | None = None,
) -> tuple[np.ndarray, str, dict[str, object]]:
    """A struck (or dropped and bouncing) object.

    Returns:
        (waveform [N] float64, caption, parameters). ``size_m`` overrides the random size
        within the ``size`` class (tests compare materials at one size).
    """
    mat = MATERIALS[material]
    lo, hi = SIZES[size]
    size_m = float(rng.uniform(lo, hi)) if size_m is None else size_m
    tilt, contact, phrase = STRENGTHS[strength]
    modes = object_modes(mat, size_m, sr, rng, tilt=tilt)
    ring = render_modes(modes, seconds, sr)
    # the contact: a half-sine force pulse; shorter (harder) pulses excite higher modes
    nc = max(2, int(contact * sr))
    pulse = np.sin(np.pi * np.arange(nc) / nc)
    knock = rng.standard_normal(int(0.012 * sr)) * np.exp(
        -np.arange(int(0.012 * sr)) / (0.002 * sr)
    )
    # broadband, but a small object radiates little below its fundamental
    knock = bandpass(knock, 0.8 * modes.freqs[0], 800 + 6000 / tilt, sr)
    one = np.convolve(ring, pulse)[: ring.shape[0]]
    one /= np.abs(one).max() + 1e-12
    kn = mat.contact_noise * knock / (np.abs(knock).max() + 1e-12)
    one[: kn.shape[0]] += kn
    out = np.zeros(int(seconds * sr))
    times, gains = _hit_schedule(hits, bounce, seconds, rng)
    for t, g in zip(times, gains, strict=True):
        add_event(out, one, int(t * sr), g)
    obj = str(rng.choice(mat.objects))
    if bounce:
        caption = f"a {size} {mat.adjective} {obj} dropped and bouncing"
    else:
        caption = f"a {size} {mat.adjective} {obj} {phrase}{_COUNT_WORDS.get(hits, ' repeatedly')}"
    params = {
        "material": material,
        "size": size,
        "size_m": size_m,
        "strength": strength,
        "hits": len(times),
        "bounce": bounce,
        "f0": float(modes.freqs[0]),
    }
    return fade(out, sr, 0.002), caption, params


def _hit_schedule(
    hits: int, bounce: bool, seconds: float, rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    start = float(rng.uniform(0.05, 0.3))
    if bounce:  # each bounce: interval and height shrink by the restitution coefficient
        e = float(rng.uniform(0.55, 0.8))
        dt, t, g = float(rng.uniform(0.25, 0.5)), start, 1.0
        times, gains = [], []
        while t < seconds - 0.05 and g > 0.02:
            times.append(t)
            gains.append(g)
            t, dt, g = t + dt, dt * e, g * e
        return times, gains
    gap = float(rng.uniform(0.25, 0.7))
    times = [start + i * gap for i in range(hits) if start + i * gap < seconds - 0.1]
    return times, [float(rng.uniform(0.8, 1.0)) for _ in times]


def scrape(
    material: str, speed: str, sr: int, rng: np.random.Generator, seconds: float = 3.0
) -> tuple[np.ndarray, str, dict[str, object]]:
    """An object scraped across a rough surface: band-limited noise (whose bandwidth follows
    the sliding speed) through the object's modes, in 1–3 strokes."""
    mat = MATERIALS[material]
    n = int(seconds * sr)
    strokes = int(rng.integers(1, 4))
    v_top = {"slowly": 0.3, "quickly": 1.0}[speed]
    velocity = np.zeros(n)
    bounds = np.linspace(0.1 * n, 0.95 * n, strokes + 1).astype(int)
    for a, b in itertools.pairwise(bounds):
        length = int((b - a) * rng.uniform(0.7, 0.95))
        velocity[a : a + length] = v_top * np.sin(np.pi * np.arange(length) / length)
    rough = rng.standard_normal(n)
    cutoff = 300 + 4000 * v_top  # a faster slide sweeps the surface texture faster
    excite = lowpass(rough, cutoff, sr) * velocity * (1 + 0.5 * smooth_random(n, 30, sr, rng))
    modes = object_modes(mat, float(rng.uniform(0.1, 0.5)), sr, rng, tilt=0.8)
    out = resonator_bank(excite, modes.freqs, modes.decays * 4, modes.gains, sr)
    out += 0.3 * excite * np.abs(out).max() / (np.abs(excite).max() + 1e-12)
    way = " back and forth" if strokes > 1 else ""
    caption = f"a {mat.adjective} object scraping {speed}{way} across a rough surface"
    return fade(out, sr), caption, {"material": material, "speed": speed, "strokes": strokes}


def roll(
    material: str, speed: str, sr: int, rng: np.random.Generator, seconds: float = 4.0
) -> tuple[np.ndarray, str, dict[str, object]]:
    """A ball rolling: many small irregular contacts (more and stronger when faster),
    modulated by the rotation, through the ball's modes; it rolls in and slows down."""
    mat = MATERIALS[material]
    n = int(seconds * sr)
    radius = float(rng.uniform(0.02, 0.08))
    v0 = {"slowly": 0.4, "quickly": 1.5}[speed]
    t = np.arange(n) / sr
    v = v0 * np.clip(1 - t / (seconds * rng.uniform(0.9, 1.3)), 0, 1)
    rot_phase = np.cumsum(v / (2 * np.pi * radius)) / sr
    wobble = 1 + 0.6 * np.sin(2 * np.pi * rot_phase)
    bumps = rng.standard_normal(n) * (rng.random(n) < 0.002 + 0.01 * v / 1.5)
    excite = lowpass(bumps * v * wobble + 0.05 * rng.standard_normal(n) * v, 2500 * v0, sr)
    modes = object_modes(mat, 2 * radius * 3, sr, rng, tilt=1.0)
    out = resonator_bank(excite, modes.freqs, modes.decays * 2, modes.gains, sr)
    out += lowpass(excite, 200, sr) * 2  # the floor's rumble
    caption = f"a {mat.adjective} ball rolling {speed} across the floor"
    return fade(out, sr), caption, {"material": material, "speed": speed, "radius": radius}


def spring(
    sr: int, rng: np.random.Generator, seconds: float = 2.5
) -> tuple[np.ndarray, str, dict[str, object]]:
    """A plucked mass on a hardening spring (Duffing oscillator x'' + 2ζωx' + ω²x + kx³ = 0):
    the frequency ω(t) ≈ ω0·√(1 + ¾·k·A(t)²) falls as the amplitude A(t) decays — "boing"."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = float(rng.uniform(80, 400))
    zeta = float(rng.uniform(0.002, 0.01))
    k = float(rng.uniform(1.0, 4.0))
    amp = np.exp(-zeta * 2 * np.pi * f0 * t)
    inst_f = f0 * np.sqrt(1 + 0.75 * k * amp**2)
    phase = 2 * np.pi * np.cumsum(inst_f) / sr
    out = amp * (np.sin(phase) + 0.3 * np.sin(3 * phase) * amp)  # cubic term: odd harmonics
    onset = int(rng.uniform(0.05, 0.2) * sr)
    out = np.concatenate([np.zeros(onset), out[: n - onset]])
    caption = str(
        rng.choice(
            ["a metal spring boinging", "a door stopper spring twanging", "a wobbling spring"]
        )
    )
    return fade(out, sr, 0.003), caption, {"f0": f0, "damping": zeta, "stiffening": k}
