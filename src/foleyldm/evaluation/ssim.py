"""Structural similarity (SSIM, Wang et al. 2004) of a generated log-mel against its reference.

Gaussian-weighted local statistics (σ = 1.5, 11 × 11 window), K1 = 0.01, K2 = 0.03, data
range R = max(M_ref) − min(M_ref) of the reference clip, no sample-covariance correction;
the SSIM map is averaged over the pixels whose whole window lies inside the image (as
scikit-image crops the border). Mels are [T, F] (`foleyldm.audio.mel.mel_spectrogram`).
Higher is better; 1 for identical clips.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError
from foleyldm.evaluation.psnr import paired_mels

SIGMA = 1.5
RADIUS = 5  # int(3.5 · σ + 0.5): an 11-tap window


def mel_ssim(gen: Any, ref: Any, k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean SSIM of one mel pair [T, F] (both axes must be longer than 11)."""
    from scipy.ndimage import gaussian_filter

    g, r = paired_mels(gen, ref)
    if min(g.shape) <= 2 * RADIUS:
        raise MetricError(f"SSIM: mels of shape {g.shape} are smaller than the 11x11 window")
    data_range = float(r.max() - r.min())
    if data_range == 0:
        raise MetricError("SSIM: the reference mel is constant (no data range)")

    def blur(x: np.ndarray) -> np.ndarray:
        return np.asarray(gaussian_filter(x, SIGMA, truncate=3.5, mode="reflect"))

    mu_g, mu_r = blur(g), blur(r)
    var_g = blur(g * g) - mu_g**2
    var_r = blur(r * r) - mu_r**2
    cov = blur(g * r) - mu_g * mu_r
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mu_g * mu_r + c1) * (2 * cov + c2)) / (
        (mu_g**2 + mu_r**2 + c1) * (var_g + var_r + c2)
    )
    return float(s[RADIUS:-RADIUS, RADIUS:-RADIUS].mean())


class MelSSIM(Metric):
    """Mean mel SSIM over pairs."""

    ssim_sum: float
    count: float

    def __init__(self) -> None:
        super().__init__()
        self.add_state("ssim_sum", np.float64(0), "sum")
        self.add_state("count", np.float64(0), "sum")

    def update(self, gen_mel: Any, ref_mel: Any) -> None:
        """Add one pair of log-mels [T, F]."""
        self.ssim_sum = self.ssim_sum + mel_ssim(gen_mel, ref_mel)
        self.count = self.count + 1

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise MetricError("SSIM: no pairs")
        return {"ssim": float(self.ssim_sum / self.count)}
