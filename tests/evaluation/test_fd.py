"""FD against closed forms for Gaussians and a direct scipy.linalg.sqrtm formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from foleyldm.evaluation import FrechetDistance, frechet_distance
from foleyldm.evaluation.base import MetricError


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def closed_form(mu1, s1, mu2, s2) -> float:
    """tr((Σ1Σ2)^½) = tr((Σ1^½ Σ2 Σ1^½)^½), the symmetric form, via eigendecompositions."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(
        np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(inner.clip(0)).sum()
    )


def samples_with_moments(rng, mu, cov, n) -> np.ndarray:
    """n rows whose sample mean is exactly mu and unbiased sample covariance exactly cov."""
    x = rng.standard_normal((n, mu.shape[0]))
    x -= x.mean(0)
    white = np.linalg.cholesky(np.cov(x, rowvar=False))
    x = np.linalg.solve(white, x.T).T  # sample covariance = I
    return x @ np.linalg.cholesky(cov).T + mu


def test_one_dimensional_closed_form():
    # FD of N(1, 2²) and N(-2, 0.5²) = (1 + 2)² + (2 - 0.5)² = 11.25
    fd = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[0.25]]))
    assert fd == pytest.approx(11.25, rel=1e-12)


def test_diagonal_covariances_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    a, b = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_closed_form_and_direct_sqrtm():
    rng = np.random.default_rng(1)
    d = 16
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    fd = frechet_distance(mu1, s1, mu2, s2)
    direct = (
        (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real
    )
    assert fd == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=1e-9)
    assert fd == pytest.approx(direct, rel=1e-12)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_streaming_metric_equals_closed_form_of_exact_moments():
    rng = np.random.default_rng(2)
    d = 12
    mu_g, mu_r = rng.standard_normal(d), rng.standard_normal(d) + 1
    cov_g, cov_r = random_spd(rng, d), random_spd(rng, d)
    xg = samples_with_moments(rng, mu_g, cov_g, 300)
    xr = samples_with_moments(rng, mu_r, cov_r, 250)
    metric = FrechetDistance()
    for chunk in np.array_split(xg, 7):
        metric.update(chunk, real=False)
    metric.update(xr, real=True)
    mu, cov = metric.stats(real=False).mean_cov()
    np.testing.assert_allclose(mu, mu_g, atol=1e-12)
    np.testing.assert_allclose(cov, cov_g, atol=1e-10)
    assert metric.compute()["fd"] == pytest.approx(closed_form(mu_g, cov_g, mu_r, cov_r), rel=1e-9)


def test_state_merge_equals_single_process_and_reset():
    rng = np.random.default_rng(3)
    xg, xr = rng.standard_normal((40, 5)), rng.standard_normal((30, 5)) + 0.5
    whole = FrechetDistance()
    whole.update(xg, real=False)
    whole.update(xr, real=True)
    ranks = [FrechetDistance(), FrechetDistance()]
    ranks[0].update(xg[:15], real=False)
    ranks[1].update(xg[15:], real=False)
    ranks[0].update(xr[:10], real=True)
    ranks[1].update(xr[10:], real=True)
    ranks[0].merge([ranks[1].state_dict()])
    assert ranks[0].compute()["fd"] == pytest.approx(whole.compute()["fd"], rel=1e-12)
    whole.reset()
    with pytest.raises(MetricError):
        whole.compute()


def test_singular_covariances_use_the_eps_fallback():
    rng = np.random.default_rng(4)
    # 5 samples in 32 dimensions: rank-4 covariances, singular product
    metric = FrechetDistance()
    metric.update(rng.standard_normal((5, 32)), real=False)
    metric.update(rng.standard_normal((5, 32)), real=True)
    assert np.isfinite(metric.compute()["fd"])


def test_rejects_dimension_change_and_nan():
    metric = FrechetDistance()
    metric.update(np.zeros((3, 4)), real=False)
    with pytest.raises(MetricError, match="features"):
        metric.update(np.zeros((3, 5)), real=False)
    with pytest.raises(MetricError, match="NaN"):
        metric.update(np.full((3, 4), np.nan), real=True)


def test_non_finite_root_retries_with_eps_offset(monkeypatch):
    rng = np.random.default_rng(5)
    s1, s2 = random_spd(rng, 4), random_spd(rng, 4)
    mu = np.zeros(4)
    seen = []
    real_sqrtm = linalg.sqrtm

    def flaky_sqrtm(a):
        seen.append(a.copy())
        return np.full_like(a, np.nan) if len(seen) == 1 else real_sqrtm(a)

    monkeypatch.setattr(linalg, "sqrtm", flaky_sqrtm)
    fd = frechet_distance(mu, s1, mu, s2, eps=1e-3)
    offset = np.eye(4) * 1e-3
    np.testing.assert_allclose(seen[1], (s1 + offset) @ (s2 + offset))
    expected = np.trace(s1 + s2) - 2 * np.trace(real_sqrtm((s1 + offset) @ (s2 + offset))).real
    assert fd == pytest.approx(expected, rel=1e-12)


def test_eigh_method_agrees_with_sqrtm():
    rng = np.random.default_rng(6)
    d = 24
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    a = frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    b = frechet_distance(mu1, s1, mu2, s2, method="eigh")
    assert b == pytest.approx(a, rel=1e-12)
    metric = FrechetDistance(method="eigh")
    x = rng.standard_normal((6, d))  # singular covariances: no eps offset needed
    metric.update(x, real=False)
    metric.update(x, real=True)
    # √ of rounding-level eigenvalues (~1e-16) leaves ~1e-8 per dimension, as sqrtm does
    assert metric.compute()["fd"] == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="method"):
        frechet_distance(mu1, s1, mu2, s2, method="svd")  # type: ignore[arg-type]
