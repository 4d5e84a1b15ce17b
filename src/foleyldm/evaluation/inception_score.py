"""Inception Score, audioldm_eval's definition (REFERENCE.md §6).

    IS = exp( E_x KL(p(y|x) ‖ p(y)) )

with p(y|x) = softmax of the classifier's logits and p(y) the mean of p(y|x) over a split.
As in audioldm_eval (``calculate_isc``): rows are shuffled with ``RandomState(2020)``, cut into
10 splits ``[i·N//10, (i+1)·N//10)``, and the mean and (population) standard deviation of the
per-split scores are reported. Computed in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_rows


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(
    logits: np.ndarray, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """(mean, std) of the per-split IS of logits [N, C]."""
    x = as_rows(logits, "IS logits")
    n = x.shape[0]
    if n < splits:
        raise MetricError(f"IS with {splits} splits needs at least {splits} clips, got {n}")
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(x)
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        q = p[lo:hi].mean(axis=0, keepdims=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - np.log(q))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScore(Metric):
    """IS of generated clips from their classifier logits [N, C] (softmax is applied here)."""

    logits: list[np.ndarray]

    def __init__(self, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> None:
        super().__init__()
        self.splits, self.shuffle, self.seed = splits, shuffle, seed
        self.add_state("logits", [], "cat")

    def update(self, logits: Any) -> None:
        dim = self.logits[0].shape[1] if self.logits else None
        self.logits.append(as_rows(logits, "IS logits", dim))

    def compute(self) -> dict[str, float]:
        if not self.logits:
            raise MetricError("IS: no clips")
        mean, std = inception_score(
            np.concatenate(self.logits), self.splits, self.shuffle, self.seed
        )
        return {"is": mean, "is_std": std}
