"""Mel PSNR against its formula and SSIM against a per-pixel loop over Gaussian windows."""

from __future__ import annotations

import numpy as np
import pytest

from foleyldm.evaluation import MelPSNR, MelSSIM, mel_psnr, mel_ssim
from foleyldm.evaluation.base import MetricError


def test_psnr_formula_and_skipping_identical_pairs():
    rng = np.random.default_rng(0)
    ref = rng.uniform(-11, 2, (100, 64))
    gen = ref + rng.normal(0, 0.5, ref.shape)
    expected = 10 * np.log10((ref.max() - ref.min()) ** 2 / np.mean((ref - gen) ** 2))
    assert mel_psnr(gen, ref) == pytest.approx(expected, rel=1e-12)
    metric = MelPSNR()
    metric.update(gen, ref)
    metric.update(ref, ref)  # infinite: skipped
    out = metric.compute()
    assert out["psnr"] == pytest.approx(expected, rel=1e-12)
    assert out["psnr_skipped"] == 1


def brute_ssim(x, y, data_range, sigma=1.5, radius=5):
    k1 = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    w = np.outer(k1, k1) / k1.sum() ** 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for i in range(radius, x.shape[0] - radius):
        for j in range(radius, x.shape[1] - radius):
            a = x[i - radius : i + radius + 1, j - radius : j + radius + 1]
            b = y[i - radius : i + radius + 1, j - radius : j + radius + 1]
            ma, mb = (w * a).sum(), (w * b).sum()
            va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
            cov = (w * (a - ma) * (b - mb)).sum()
            values.append(
                ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    return np.mean(values)


def test_ssim_matches_windowed_loop_and_is_one_for_identical():
    rng = np.random.default_rng(1)
    ref = rng.uniform(-11, 2, (30, 24))
    gen = 0.7 * ref + rng.normal(0, 1.0, ref.shape)
    expected = brute_ssim(gen, ref, ref.max() - ref.min())
    assert mel_ssim(gen, ref) == pytest.approx(expected, rel=1e-9)
    assert mel_ssim(ref, ref) == pytest.approx(1.0, abs=1e-12)
    metric = MelSSIM()
    metric.update(gen, ref)
    metric.update(ref, ref)
    assert metric.compute()["ssim"] == pytest.approx((expected + 1) / 2, rel=1e-9)


def test_shape_checks():
    with pytest.raises(MetricError, match="equal F"):
        mel_psnr(np.zeros((10, 64)), np.zeros((10, 32)))
    with pytest.raises(MetricError, match="window"):
        mel_ssim(np.ones((8, 64)), np.arange(8 * 64.0).reshape(8, 64))
