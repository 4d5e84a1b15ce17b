"""Kernel distance (KID): unbiased MMD² with a polynomial kernel, over random subsets.

    k(x, y) = (γ·xᵀy + c)^d,  γ = 1/D, c = 1, d = 3 (defaults)
    MMD²_u = Σ_{i≠j} k(x_i, x_j)/(m(m−1)) + Σ_{i≠j} k(y_i, y_j)/(m(m−1)) − 2 Σ_{i,j} k(x_i, y_j)/m²

as in audioldm_eval / torch-fidelity (``calculate_kid``): ``subsets`` draws of ``subset_size``
rows without replacement from each side (``RandomState(seed)``, generated side drawn first),
mean and std of the MMD² values. The subset size is capped at the smaller side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_rows


def polynomial_mmd2(
    x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> float:
    """Unbiased MMD² between equal-size samples x, y [m, D] with the polynomial kernel."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise MetricError(f"KID: need two samples of equal size >= 2, got {m} and {y.shape[0]}")
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (g * x @ x.T + coef0) ** degree
    k_yy = (g * y @ y.T + coef0) ** degree
    k_xy = (g * x @ y.T + coef0) ** degree
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / m**2)


class KernelDistance(Metric):
    """KID between embeddings passed with ``real=False`` (generated) and ``real=True``."""

    gen: list[np.ndarray]
    ref: list[np.ndarray]

    def __init__(
        self,
        subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        gamma: float | None = None,
        coef0: float = 1.0,
        seed: int = 2020,
    ) -> None:
        super().__init__()
        self.subsets, self.subset_size = subsets, subset_size
        self.degree, self.gamma, self.coef0, self.seed = degree, gamma, coef0, seed
        self.add_state("gen", [], "cat")
        self.add_state("ref", [], "cat")

    def update(self, features: Any, real: bool) -> None:
        rows: list[np.ndarray] = self.ref if real else self.gen
        other = self.gen if real else self.ref
        dim = (rows or other)[0].shape[1] if (rows or other) else None
        rows.append(as_rows(features, "KID features", dim))

    def compute(self) -> dict[str, float]:
        if not self.gen or not self.ref:
            raise MetricError("KID needs generated and reference embeddings")
        x, y = np.concatenate(self.gen), np.concatenate(self.ref)
        m = min(self.subset_size, x.shape[0], y.shape[0])
        rng = np.random.RandomState(self.seed)
        mmds = np.empty(self.subsets)
        for i in range(self.subsets):
            xs = x[rng.choice(x.shape[0], m, replace=False)]
            ys = y[rng.choice(y.shape[0], m, replace=False)]
            mmds[i] = polynomial_mmd2(xs, ys, self.degree, self.gamma, self.coef0)
        return {"kid": float(mmds.mean()), "kid_std": float(mmds.std())}
