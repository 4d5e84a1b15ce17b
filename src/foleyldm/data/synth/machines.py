"""Engines and motors from their mechanics.

A four-stroke engine fires ``cylinders / 2`` times per revolution, so its pulse rate is
rpm/60·cylinders/2 Hz; each firing is a short pressure pop shaped by the exhaust's
resonances. An electric motor hums at its rotation rate times the pole count with a few
harmonics, plus brush noise modulated by the rotation.
"""

from __future__ import annotations

import numpy as np

from foleyldm.data.synth.dsp import bandpass, fade, highpass, lowpass, smooth_random

Render = tuple[np.ndarray, str, dict[str, object]]

ENGINES = {  # size: (cylinders, idle rpm, max rpm, exhaust resonances Hz, noun)
    "small": (1, 1800.0, 7000.0, (700.0, 1900.0), "small petrol engine"),
    "medium": (4, 850.0, 5500.0, (250.0, 900.0), "car engine"),
    "large": (6, 600.0, 2200.0, (120.0, 450.0), "large diesel engine"),
}
ENGINE_STATES = ("idling", "revving", "accelerating")


def rpm_curve(
    state: str, idle: float, top: float, n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    t = np.arange(n) / n
    if state == "idling":
        return idle * (1 + 0.02 * smooth_random(n, 2.0, sr, rng))
    if state == "revving":  # one or two blips of the throttle
        out = np.full(n, idle)
        for c in rng.uniform(0.2, 0.8, int(rng.integers(1, 3))):
            out += (top * 0.7 - idle) * np.exp(-0.5 * ((t - c) / 0.07) ** 2)
        return np.asarray(out)
    return idle + (top * 0.8 - idle) * np.clip((t - 0.1) / 0.8, 0, 1) ** 0.7  # accelerating


def engine(
    size: str, state: str, sr: int, rng: np.random.Generator, seconds: float = 6.0
) -> Render:
    """Firing pulses (with cycle-to-cycle jitter) through exhaust resonances, plus mechanical
    noise gated by the firing."""
    cyl, idle, top, formants, noun = ENGINES[size]
    n = int(seconds * sr)
    rpm = rpm_curve(state, idle * rng.uniform(0.9, 1.1), top, n, sr, rng)
    fire_hz = rpm / 60 * max(cyl / 2, 0.5)
    phase = np.cumsum(fire_hz) / sr
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0]
    pulses = np.zeros(n)
    pulses[idx] = 1 + 0.25 * rng.standard_normal(idx.shape[0])  # uneven combustion
    pop_len = int(0.006 * sr)
    pop = np.exp(-np.arange(pop_len) / (0.0015 * sr)) * (1 + 0.3 * rng.standard_normal(pop_len))
    excite = np.convolve(pulses, pop)[:n]
    body = sum((bandpass(excite, f * 0.7, f * 1.4, sr) for f in formants), np.zeros(n))
    body = body + 0.6 * lowpass(excite, formants[0] * 0.8, sr)
    gate = lowpass(np.convolve(pulses, np.ones(int(0.004 * sr)))[:n], 200, sr)
    mech = highpass(rng.standard_normal(n), 2000, sr) * (0.2 + gate) * 0.05
    out = body + mech
    caption = {
        "idling": f"a {noun} idling",
        "revving": f"a {noun} revving",
        "accelerating": f"a {noun} accelerating",
    }[state]
    return fade(out, sr, 0.05), caption, {"size": size, "state": state, "cylinders": cyl}


MOTOR_STATES = ("steady", "spinning up", "spinning down")


def motor(state: str, sr: int, rng: np.random.Generator, seconds: float = 5.0) -> Render:
    """An electric motor: a whine at rotation × poles with harmonics, brush noise."""
    n = int(seconds * sr)
    t = np.arange(n) / n
    top = float(rng.uniform(3000, 18000))  # rpm
    poles = int(rng.choice([2, 4, 6]))
    shape = {
        "steady": np.ones(n),
        "spinning up": np.clip(t / 0.7, 0, 1) ** 0.5,
        "spinning down": np.clip(1 - t / 0.8, 0, 1) ** 2,
    }[state]
    rot_hz = top / 60 * (0.02 + 0.98 * shape)
    phase = 2 * np.pi * np.cumsum(rot_hz * poles) / sr
    inst = rot_hz * poles
    # harmonics above Nyquist would alias: each is muted where it would exceed 0.45·sr
    tone = sum(
        (np.sin(h * phase) / h**1.3 * (h * inst < 0.45 * sr) for h in (1, 2, 3, 4, 6)),
        np.zeros(n),
    )
    brush = highpass(rng.standard_normal(n), 3000, sr) * (1 + 0.5 * np.sin(phase / poles))
    level = 0.1 + 0.9 * shape
    out = (tone + 0.3 * brush) * level
    pace = "at high speed" if top > 10000 else "at low speed"
    caption = {
        "steady": f"an electric motor whirring {pace}",
        "spinning up": "an electric motor spinning up",
        "spinning down": "an electric motor winding down",
    }[state]
    return fade(out, sr, 0.05), caption, {"state": state, "rpm": top, "poles": poles}
