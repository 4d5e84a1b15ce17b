"""KL (softmax and sigmoid) against scipy.stats.entropy / scipy.special.rel_entr."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import rel_entr, softmax
from scipy.stats import entropy

from foleyldm.evaluation import KLDivergence, pair_by_name
from foleyldm.evaluation.base import MetricError


def test_softmax_kl_matches_scipy_entropy_mean_over_pairs():
    rng = np.random.default_rng(0)
    gen, ref = rng.standard_normal((9, 527)) * 2, rng.standard_normal((9, 527)) * 2
    metric = KLDivergence(eps=0.0)
    metric.update(gen, ref)
    expected = np.mean([entropy(softmax(r), softmax(g)) for g, r in zip(gen, ref, strict=True)])
    assert metric.compute()["kl_softmax"] == pytest.approx(expected, rel=1e-10)


def test_default_eps_is_audioldm_evals_and_close_to_exact_kl():
    rng = np.random.default_rng(1)
    gen, ref = rng.standard_normal((4, 20)), rng.standard_normal((4, 20))
    metric = KLDivergence()  # eps 1e-6 inside log(p_gen + eps)
    metric.update(gen, ref)
    p_r, p_g = softmax(ref, axis=1), softmax(gen, axis=1)
    with_eps = np.sum(rel_entr(p_r, p_g + 1e-6)) / 4  # rel_entr = p log(p/q), no renormalising
    assert metric.compute()["kl_softmax"] == pytest.approx(with_eps, rel=1e-12)
    exact = np.mean([entropy(r, g) for g, r in zip(p_g, p_r, strict=True)])
    assert metric.compute()["kl_softmax"] == pytest.approx(exact, abs=1e-4)


def test_sigmoid_variant_is_the_summed_elementwise_term():
    rng = np.random.default_rng(2)
    gen, ref = rng.standard_normal((6, 30)) * 4, rng.standard_normal((6, 30)) * 4
    metric = KLDivergence(eps=0.0)
    metric.update(gen, ref)
    s = 1 / (1 + np.exp(-np.stack([gen, ref])))
    assert metric.compute()["kl_sigmoid"] == pytest.approx(
        np.sum(rel_entr(s[1], s[0])) / 6, rel=1e-10
    )


def test_identical_pairs_give_zero_and_order_of_updates_does_not_matter():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 10))
    metric = KLDivergence()
    metric.update(x[:2], x[:2])
    metric.update(x[2:], x[2:])
    out = metric.compute()
    assert out["kl_softmax"] == pytest.approx(0.0, abs=1e-5)
    assert out["kl_sigmoid"] == pytest.approx(0.0, abs=1e-5)


def test_pair_by_name_matches_rows_and_rejects_disjoint_sets():
    gen = {"b.wav": [1.0, 0.0], "a.wav": [0.0, 1.0], "only_gen.wav": [5.0, 5.0]}
    ref = {"a.wav": [0.0, 2.0], "b.wav": [3.0, 0.0]}
    names, g, r = pair_by_name(gen, ref)
    assert names == ["a.wav", "b.wav"]
    np.testing.assert_array_equal(g, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(r, [[0, 2], [3, 0]])
    with pytest.raises(MetricError, match="no file names"):
        pair_by_name({"x": [1.0]}, {"y": [1.0]})
