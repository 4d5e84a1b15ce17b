"""Composition for augmentation and temporal control: mixing, concatenation, gain.

Mixing two clips at a chosen SNR gives "A and B" (comparable levels) or "A with B in the
background" (the mixup the AudioLDM paper describes); concatenation gives "A followed by
B". `Augmenter` applies them on the fly with given probabilities, from a numpy generator the
caller seeds (the dataset seeds it from (seed, epoch, index)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


def _power(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean())


def mix_at_snr(a: torch.Tensor, b: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``a + g·b`` with g chosen so that 10·log10(P(a) / P(g·b)) = ``snr_db``.

    ``b`` is zero-padded or cropped to ``a``'s length [N]. A silent ``b`` adds nothing; a
    silent ``a`` gets ``b`` at its own level.
    """
    b = b[: a.shape[-1]]
    if b.shape[-1] < a.shape[-1]:
        b = torch.nn.functional.pad(b, (0, a.shape[-1] - b.shape[-1]))
    pa, pb = _power(a), _power(b)
    if pb == 0.0:
        return a.clone()
    if pa == 0.0:
        return b.clone()
    gain = (pa / (pb * 10 ** (snr_db / 10))) ** 0.5
    return a + gain * b


def _clause(caption: str, first: bool) -> str:
    c = caption.strip().rstrip(".!").strip()
    if not first and c[:1].isupper() and not c[1:2].isupper():
        c = c[:1].lower() + c[1:]
    return c


def mix_caption(a: str, b: str, snr_db: float, balanced_db: float = 3.0) -> str:
    """ "A and B" when within ``balanced_db`` of each other, else the quieter one "in the
    background" ("A with B in the background" for snr_db > balanced_db)."""
    if abs(snr_db) <= balanced_db:
        return f"{_clause(a, True)} and {_clause(b, False)}"
    fg, bg = (a, b) if snr_db > 0 else (b, a)
    return f"{_clause(fg, True)} with {_clause(bg, False)} in the background"


def concatenate(
    a: torch.Tensor, b: torch.Tensor, num_samples: int, split: float, fade: int = 160
) -> torch.Tensor:
    """The start of ``a`` for ``split``·N samples, then the start of ``b``, with a
    ``fade``-sample crossfade, [N] = ``num_samples`` (zero-padded where a clip is short)."""
    k = round(split * num_samples)
    head = torch.nn.functional.pad(a[:k], (0, max(0, k - a.shape[-1])))
    tail = b[: num_samples - k + fade]
    tail = torch.nn.functional.pad(tail, (0, max(0, num_samples - k + fade - tail.shape[-1])))
    out = torch.zeros(num_samples, dtype=a.dtype)
    out[:k] = head
    f = min(fade, k, num_samples - k)
    if f > 0:
        ramp = torch.linspace(0, 1, f, dtype=a.dtype)
        out[k - f : k] = out[k - f : k] * (1 - ramp) + tail[:f] * ramp
        out[k:] = tail[f : f + num_samples - k]
    else:
        out[k:] = tail[: num_samples - k]
    return out


def concat_caption(a: str, b: str) -> str:
    return f"{_clause(a, True)} followed by {_clause(b, False)}"


def random_gain(
    wav: torch.Tensor, rng: np.random.Generator, low_db: float, high_db: float
) -> torch.Tensor:
    """Scale by a gain drawn uniformly in [low_db, high_db] dB."""
    return wav * float(10 ** (rng.uniform(low_db, high_db) / 20))


Clip = tuple[torch.Tensor, str]


@dataclass
class Augmenter:
    """On-the-fly composition: with ``p_mix`` mix in another clip at an SNR drawn from
    ``snr_db`` (the SNR sets the relative loudness); else with ``p_concat`` splice another
    clip after this one, whose loudness relative to the first varies by ``gain_db`` with
    probability ``p_gain``.

    Called with this clip, a function that draws another clip, and the sample's generator.
    Returns the new waveform, caption, and which operation ran ("mix", "concat" or "").
    """

    p_mix: float = 0.25
    p_concat: float = 0.1
    p_gain: float = 0.5
    snr_db: tuple[float, float] = (-5.0, 20.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    split: tuple[float, float] = (0.3, 0.7)

    def __call__(
        self, clip: Clip, other: Callable[[], Clip], rng: np.random.Generator
    ) -> tuple[torch.Tensor, str, str]:
        wav, caption = clip
        u = rng.random()
        if u >= self.p_mix + self.p_concat:
            return wav, caption, ""
        wav_b, caption_b = other()
        if u < self.p_mix:
            snr = float(rng.uniform(*self.snr_db))
            return mix_at_snr(wav, wav_b, snr), mix_caption(caption, caption_b, snr), "mix"
        pa, pb = _power(wav), _power(wav_b)
        if pa > 0 and pb > 0:  # equal loudness first, then the random difference
            wav_b = wav_b * (pa / pb) ** 0.5
        if rng.random() < self.p_gain:
            wav_b = random_gain(wav_b, rng, *self.gain_db)
        split = float(rng.uniform(*self.split))
        out = concatenate(wav, wav_b, wav.shape[-1], split)
        return out, concat_caption(caption, caption_b), "concat"
