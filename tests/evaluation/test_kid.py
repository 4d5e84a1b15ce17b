"""KID against a brute-force unbiased MMD² written with explicit loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from foleyldm.evaluation import KernelDistance, polynomial_mmd2


def brute_mmd2(x, y, degree=3, coef0=1.0):
    d = x.shape[1]

    def k(a, b):
        return (sum(ai * bi for ai, bi in zip(a, b, strict=True)) / d + coef0) ** degree

    m = len(x)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    return xx + yy - 2 * xy


def test_polynomial_mmd2_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 5)) + 0.3
    assert polynomial_mmd2(x, y) == pytest.approx(brute_mmd2(x, y), rel=1e-10)


def test_kid_subsets_match_brute_force_on_the_same_draws():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((25, 4)) * 1.5
    metric = KernelDistance(subsets=5, subset_size=8, seed=7)
    metric.update(x[:10], real=False)
    metric.update(y, real=True)
    metric.update(x[10:], real=False)
    draws = np.random.RandomState(7)
    values = []
    for _ in range(5):
        xs = x[draws.choice(30, 8, replace=False)]
        ys = y[draws.choice(25, 8, replace=False)]
        values.append(brute_mmd2(xs, ys))
    out = metric.compute()
    assert out["kid"] == pytest.approx(np.mean(values), rel=1e-9)
    assert out["kid_std"] == pytest.approx(np.std(values), rel=1e-8)


def test_kid_near_zero_for_one_distribution_and_positive_for_shift():
    rng = np.random.default_rng(2)
    same = KernelDistance(subsets=10, subset_size=200)
    same.update(rng.standard_normal((400, 8)), real=False)
    same.update(rng.standard_normal((400, 8)), real=True)
    shifted = KernelDistance(subsets=10, subset_size=200)
    shifted.update(rng.standard_normal((400, 8)), real=False)
    shifted.update(rng.standard_normal((400, 8)) + 1.0, real=True)
    assert abs(same.compute()["kid"]) < 0.05 < shifted.compute()["kid"]
