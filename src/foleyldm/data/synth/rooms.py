"""Synthetic acoustic environments: room impulse responses and their captions.

An impulse response here is the direct sound, early reflections from image sources of a
shoebox room (orders ≤ 3, reflection coefficient √(1−ᾱ)), and a statistical late tail:
Gaussian noise decaying at Sabine's reverberation time T60 = 0.161·V / (S·ᾱ) (V volume m³,
S surface m², ᾱ mean absorption), faded in over the mixing time (≈ √V ms). The tail's
energy follows diffuse-field theory: reverberant / direct energy = 16π·d² / R with the room
constant R = S·ᾱ / (1 − ᾱ), so a far source sounds more reverberant than a near one.
Outdoors there is only the direct sound, a ground reflection and air absorption.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from foleyldm.data.synth.dsp import lowpass

SPEED_OF_SOUND = 343.0


@dataclass(frozen=True)
class Room:
    """A shoebox room (or ``outdoor``), source–listener ``distance`` in metres."""

    caption: str  # e.g. "in a large reverberant hall"
    dims: tuple[float, float, float]
    absorption: float  # mean absorption coefficient ᾱ in (0, 1)
    distance: float
    outdoor: bool = False

    @property
    def volume(self) -> float:
        x, y, z = self.dims
        return x * y * z

    @property
    def surface(self) -> float:
        x, y, z = self.dims
        return 2 * (x * y + x * z + y * z)

    @property
    def rt60(self) -> float:
        """Sabine's reverberation time in seconds (0 outdoors)."""
        if self.outdoor:
            return 0.0
        return 0.161 * self.volume / (self.surface * self.absorption)

    @property
    def room_constant(self) -> float:
        return self.surface * self.absorption / (1 - self.absorption)


# caption: (dims ranges (min, max) per axis, absorption range, distance range)
Range = tuple[float, float]
ROOM_PRESETS: dict[str, tuple[tuple[Range, Range, Range], Range, Range]] = {
    "in a small carpeted room": (((3, 4), (2.5, 3.5), (2.4, 2.7)), (0.35, 0.5), (1, 2)),
    "in a tiled bathroom": (((2, 3), (1.8, 2.5), (2.3, 2.6)), (0.03, 0.06), (0.8, 1.5)),
    "in a living room": (((4, 6), (3.5, 5), (2.5, 2.8)), (0.2, 0.3), (1.5, 3)),
    "in an empty room": (((4, 6), (3.5, 5), (2.5, 3)), (0.05, 0.09), (1.5, 3)),
    "in a large hall": (((20, 35), (15, 25), (8, 14)), (0.18, 0.28), (5, 15)),
    "in a large reverberant hall": (((20, 35), (15, 25), (8, 14)), (0.06, 0.1), (5, 15)),
    "in a cathedral": (((40, 70), (15, 30), (15, 30)), (0.07, 0.1), (8, 25)),
    "in an underground parking garage": (((30, 50), (20, 40), (2.5, 3)), (0.06, 0.1), (5, 20)),
}
OUTDOOR_PRESETS = {"outdoors, close by": (1.0, 5.0), "outdoors, far away": (40.0, 150.0)}


def random_room(rng: np.random.Generator, outdoor_prob: float = 0.15) -> Room:
    """A room drawn from the presets (or outdoors), parameters uniform in their ranges."""
    if rng.random() < outdoor_prob:
        caption = str(rng.choice(list(OUTDOOR_PRESETS)))
        lo, hi = OUTDOOR_PRESETS[caption]
        return Room(caption, (0.0, 0.0, 0.0), 1.0, float(rng.uniform(lo, hi)), outdoor=True)
    caption = str(rng.choice(list(ROOM_PRESETS)))
    dims_r, abs_r, dist_r = ROOM_PRESETS[caption]
    dims = tuple(float(rng.uniform(*r)) for r in dims_r)
    assert len(dims) == 3
    diag = float(np.sqrt(sum(d * d for d in dims)))
    dist = float(min(rng.uniform(*dist_r), 0.6 * diag))
    return Room(caption, (dims[0], dims[1], dims[2]), float(rng.uniform(*abs_r)), dist)


def _positions(room: Room, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Source and listener inside the room, ``room.distance`` apart (as near as fits)."""
    dims = np.asarray(room.dims)
    margin = np.minimum(0.5, dims / 4)
    listener = rng.uniform(margin, dims - margin)
    for _ in range(200):
        v = rng.standard_normal(3)
        src = listener + room.distance * v / np.linalg.norm(v)
        if np.all(src > margin) and np.all(src < dims - margin):
            return src, listener
    # fall back: along the room's main diagonal, centred
    centre, u = dims / 2, dims / np.linalg.norm(dims)
    return centre + u * room.distance / 2, centre - u * room.distance / 2


def room_impulse_response(room: Room, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The impulse response [N] (float64) of ``room``; the direct sound has amplitude 1/d.

    Indoors it lasts 1.2·T60 (so a −60 dB decay fits), plus the direct path delay.
    """
    if room.outdoor:
        return _outdoor_ir(room, sr, rng)
    c = SPEED_OF_SOUND
    t60 = room.rt60
    src, lis = _positions(room, rng)
    d_direct = float(np.linalg.norm(src - lis))
    n = int((1.2 * t60 + d_direct / c) * sr) + 1
    h = np.zeros(n)
    beta = np.sqrt(1 - room.absorption)
    dims = np.asarray(room.dims)
    # image sources: per axis x' = (1 − 2q)·s + 2·m·L, reflections |m − q| + |m|
    for mq in itertools.product(range(-2, 3), (0, 1), range(-2, 3), (0, 1), range(-2, 3), (0, 1)):
        m = np.asarray(mq[0::2])
        q = np.asarray(mq[1::2])
        order = int(np.sum(np.abs(m - q) + np.abs(m)))
        if order > 3:
            continue
        img = (1 - 2 * q) * src + 2 * m * dims
        dist = float(np.linalg.norm(img - lis))
        k = round(dist / c * sr)
        if k < n:
            h[k] += beta**order / max(dist, 0.1)
    # reverberant energy (early reflections + tail) = 16π/R, for a direct sound of 1/d²
    direct_k = round(d_direct / c * sr)
    early = float(np.sum(h**2) - h[direct_k] ** 2)
    budget = max(16 * np.pi / room.room_constant - early, 0.1 * 16 * np.pi / room.room_constant)
    t0 = int(d_direct / c * sr)
    m_len = n - t0
    tau = t60 / np.log(1e3)  # amplitude time constant: e^{-t/τ} falls 60 dB in T60
    t = np.arange(m_len) / sr
    env = np.exp(-t / tau)
    mix = max(np.sqrt(room.volume) * 1e-3, 0.005)  # mixing time, s
    env *= np.clip(t / mix, 0, 1) ** 2
    noise = rng.standard_normal(m_len)
    tail = noise * env
    energy = float(np.sum(tail**2))
    tail *= np.sqrt(budget / energy)
    h[t0:] += tail
    return h


def _outdoor_ir(room: Room, sr: int, rng: np.random.Generator) -> np.ndarray:
    d = room.distance
    height = float(rng.uniform(1.0, 2.0))
    d_ground = float(np.sqrt(d**2 + (2 * height) ** 2))
    k0, k1 = int(d / SPEED_OF_SOUND * sr), int(d_ground / SPEED_OF_SOUND * sr)
    h = np.zeros(k1 + int(0.05 * sr))
    h[k0] += 1 / d
    h[k1] += 0.6 / d_ground
    if d > 10:  # air absorption takes the highs of distant sound
        h = lowpass(h, 16000 / (1 + d / 30), sr)
    return h


def apply_room(wav: np.ndarray, ir: np.ndarray, max_samples: int | None = None) -> np.ndarray:
    """Convolve [N] with the impulse response, drop the propagation delay, keep the input's
    peak level. The result is N + len(tail) samples, at most ``max_samples``."""
    onset = int(np.argmax(np.abs(ir) > 0.5 * np.abs(ir).max()))
    y = signal.fftconvolve(wav, ir[onset:])
    y = y[: max_samples if max_samples is not None else y.shape[0]]
    top, peak = float(np.abs(y).max(initial=0.0)), float(np.abs(wav).max(initial=0.0))
    return y * (peak / top) if top > 0 else y
