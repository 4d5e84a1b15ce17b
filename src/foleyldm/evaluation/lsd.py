"""Log-spectral distance (LSD), the super-resolution metric (NVSR / AudioSR convention).

For a clip pair with power spectrograms S_ref, S_est [F, T] (|STFT|², periodic Hann,
``n_fft`` 2048, hop 512, centred with reflect padding):

    LSD = (1/T) Σ_t sqrt( (1/F) Σ_f (log10 S_ref(f,t) − log10 S_est(f,t))² )

with each S floored at ``eps`` (1e-8) before the log. Lower is better; 0 for identical
clips. The clip-level values are averaged over pairs (state: a sum and a count). Pass
``fmin_hz`` to restrict the frequency axis (e.g. to the band that was super-resolved).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_float64


def log_spectral_distance(
    est: Any,
    ref: Any,
    n_fft: int = 2048,
    hop_length: int = 512,
    eps: float = 1e-8,
    sample_rate: int | None = None,
    fmin_hz: float = 0.0,
) -> np.ndarray:
    """LSD of each paired row of waveforms [B, N] (or [N]) -> [B] (float64).

    Both must have the same sample rate; the longer one is cropped to the shorter.
    """
    import torch

    e, r = (
        np.atleast_2d(as_float64(est, "LSD estimate")),
        np.atleast_2d(as_float64(ref, "LSD reference")),
    )
    if e.shape[0] != r.shape[0]:
        raise MetricError(f"LSD: {e.shape[0]} estimates but {r.shape[0]} references")
    n = min(e.shape[1], r.shape[1])
    if n <= n_fft // 2:
        raise MetricError(f"LSD: clips of {n} samples are too short for n_fft={n_fft}")
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)

    def power(x: np.ndarray) -> torch.Tensor:
        spec = torch.stft(
            torch.from_numpy(x[:, :n]),
            n_fft,
            hop_length,
            window=window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        return spec.abs() ** 2  # [B, F, T]

    pe, pr = power(e), power(r)
    if fmin_hz > 0:
        if sample_rate is None:
            raise MetricError("LSD: fmin_hz needs sample_rate")
        keep = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate) >= fmin_hz
        pe, pr = pe[:, keep], pr[:, keep]
    d = torch.log10(pr.clamp_min(eps)) - torch.log10(pe.clamp_min(eps))
    return (d.pow(2).mean(dim=1).sqrt().mean(dim=1)).numpy()


class LogSpectralDistance(Metric):
    """Mean LSD over clip pairs (estimate, reference) at one sample rate."""

    lsd_sum: float
    count: float

    def __init__(
        self,
        n_fft: int = 2048,
        hop_length: int = 512,
        eps: float = 1e-8,
        sample_rate: int | None = None,
        fmin_hz: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.eps = n_fft, hop_length, eps
        self.sample_rate, self.fmin_hz = sample_rate, fmin_hz
        self.add_state("lsd_sum", np.float64(0), "sum")
        self.add_state("count", np.float64(0), "sum")

    def update(self, est: Any, ref: Any) -> None:
        """Add paired waveforms [B, N] (or one [N] each)."""
        values = log_spectral_distance(
            est, ref, self.n_fft, self.hop_length, self.eps, self.sample_rate, self.fmin_hz
        )
        self.lsd_sum = self.lsd_sum + values.sum()
        self.count = self.count + values.shape[0]

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise MetricError("LSD: no pairs")
        return {"lsd": float(self.lsd_sum / self.count)}
