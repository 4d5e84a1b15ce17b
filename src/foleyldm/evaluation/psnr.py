"""Peak signal-to-noise ratio of a generated log-mel spectrogram against its reference.

    PSNR = 10 · log10( R² / mean((M_ref − M_gen)²) ),  R = max(M_ref) − min(M_ref)

on the AudioLDM log-mel (`foleyldm.audio.mel.mel_spectrogram`, [T, 64]); the data range R is
the reference clip's own (audioldm_eval leaves it to scikit-image's version-dependent
default, which we do not copy). Identical pairs (infinite PSNR) are skipped and counted, as
audioldm_eval skips them. Higher is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_float64


def paired_mels(gen: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two mels [T, F] (float64), cropped to the shorter T."""
    g, r = as_float64(gen, "generated mel"), as_float64(ref, "reference mel")
    if g.ndim != 2 or r.ndim != 2 or g.shape[1] != r.shape[1]:
        raise MetricError(f"mel pair must be [T, F] with equal F, got {g.shape} and {r.shape}")
    t = min(g.shape[0], r.shape[0])
    return g[:t], r[:t]


def mel_psnr(gen: Any, ref: Any) -> float:
    """PSNR (dB) of one mel pair [T, F]; ``inf`` when they are identical."""
    g, r = paired_mels(gen, ref)
    mse = float(np.mean((r - g) ** 2))
    data_range = float(r.max() - r.min())
    if mse == 0:
        return float("inf")
    if data_range == 0:
        raise MetricError("PSNR: the reference mel is constant (no data range)")
    return 10.0 * float(np.log10(data_range**2 / mse))


class MelPSNR(Metric):
    """Mean mel PSNR over pairs (identical pairs skipped and counted in ``psnr_skipped``)."""

    psnr_sum: float
    count: float
    skipped: float

    def __init__(self) -> None:
        super().__init__()
        self.add_state("psnr_sum", np.float64(0), "sum")
        self.add_state("count", np.float64(0), "sum")
        self.add_state("skipped", np.float64(0), "sum")

    def update(self, gen_mel: Any, ref_mel: Any) -> None:
        """Add one pair of log-mels [T, F]."""
        value = mel_psnr(gen_mel, ref_mel)
        if np.isinf(value):
            self.skipped = self.skipped + 1
            return
        self.psnr_sum = self.psnr_sum + value
        self.count = self.count + 1

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise MetricError("PSNR: no pairs with a finite value")
        return {"psnr": float(self.psnr_sum / self.count), "psnr_skipped": float(self.skipped)}
