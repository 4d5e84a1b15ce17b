"""KL divergence between the class posteriors of paired reference and generated clips.

audioldm_eval's definition (``calculate_kl``, REFERENCE.md §6), pairs matched by file name:

    KL_softmax = (1/P) Σ_pairs Σ_classes p_r · (log p_r − log(p_g + ε))
    p = softmax(logits)

i.e. ``torch.nn.functional.kl_div(log(p_g + ε), p_r, reduction="sum") / P`` = mean over
pairs of KL(ref ‖ gen), ε = 1e-6. The sigmoid variant puts p = sigmoid(logits) into the same
sum: the per-class scores are not normalised, so it is a pseudo-divergence (it can be
negative); it is reported because published tables do. Terms with p_r = 0 count 0.

The state is three sums, so ranks all-reduce it; pairing by name happens before `update`
(see `pair_by_name`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit, xlogy

from foleyldm.evaluation.base import Metric, MetricError, as_rows
from foleyldm.evaluation.inception_score import log_softmax

#: audioldm_eval's epsilon inside the log of the generated distribution.
KL_EPS = 1e-6


def _xlogy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p · log(q) with 0 · log(anything) = 0."""
    return np.asarray(xlogy(p, q))


def kl_sums(
    gen_logits: np.ndarray, ref_logits: np.ndarray, eps: float = KL_EPS
) -> tuple[float, float]:
    """(Σ softmax KL, Σ sigmoid KL) over the paired rows of [P, C] logits."""
    p_ref = np.exp(log_softmax(ref_logits))
    p_gen = np.exp(log_softmax(gen_logits))
    soft = _xlogy(p_ref, p_ref) - _xlogy(p_ref, p_gen + eps)
    s_ref, s_gen = expit(ref_logits), expit(gen_logits)
    sig = _xlogy(s_ref, s_ref) - _xlogy(s_ref, s_gen + eps)
    return float(soft.sum()), float(sig.sum())


def pair_by_name(
    gen: Mapping[str, Any], ref: Mapping[str, Any]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Rows of two ``{file name: logits [C]}`` maps whose names match, in sorted name order.

    Returns ``(names, gen [P, C], ref [P, C])``.
    """
    names = sorted(set(gen) & set(ref))
    if not names:
        raise MetricError("KL: no file names are shared by the two folders (it needs pairs)")
    g = np.stack([np.asarray(gen[k], np.float64) for k in names])
    r = np.stack([np.asarray(ref[k], np.float64) for k in names])
    return names, g, r


class KLDivergence(Metric):
    """Mean over pairs of KL(ref ‖ gen) of class posteriors (softmax and sigmoid variants)."""

    softmax_sum: float
    sigmoid_sum: float
    pairs: float

    def __init__(self, eps: float = KL_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.add_state("softmax_sum", np.float64(0), "sum")
        self.add_state("sigmoid_sum", np.float64(0), "sum")
        self.add_state("pairs", np.float64(0), "sum")

    def update(self, gen_logits: Any, ref_logits: Any) -> None:
        """Add paired logits [P, C] (row i of each is the same file name)."""
        g = as_rows(gen_logits, "KL generated logits")
        r = as_rows(ref_logits, "KL reference logits")
        if g.shape != r.shape:
            raise MetricError(f"KL: paired logits differ in shape: {g.shape} vs {r.shape}")
        soft, sig = kl_sums(g, r, self.eps)
        self.softmax_sum = self.softmax_sum + soft
        self.sigmoid_sum = self.sigmoid_sum + sig
        self.pairs = self.pairs + g.shape[0]

    def compute(self) -> dict[str, float]:
        if self.pairs == 0:
            raise MetricError("KL: no pairs")
        return {
            "kl_softmax": float(self.softmax_sum / self.pairs),
            "kl_sigmoid": float(self.sigmoid_sum / self.pairs),
        }
