"""IS on hand-made class posteriors whose score is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from foleyldm.evaluation import InceptionScore, inception_score
from foleyldm.evaluation.base import MetricError


def test_confident_and_uniformly_spread_predictions_score_the_class_count():
    # 10 splits x 8 clips, each split covers 8 classes once with near one-hot posteriors
    k = 8
    logits = np.tile(np.eye(k) * 60.0, (10, 1))
    mean, std = inception_score(logits, splits=10, shuffle=False)
    assert mean == pytest.approx(k, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_identical_posteriors_score_one():
    logits = np.tile(np.log([0.5, 0.3, 0.2]), (50, 1))
    mean, _ = inception_score(logits)
    assert mean == pytest.approx(1.0, abs=1e-12)


def test_two_class_mixture_closed_form():
    # half the clips p(y|x) = (a, 1-a), half (1-a, a): p(y) = (1/2, 1/2) in every split, so
    # KL = log 2 - H(a) and IS = 2 a^a (1-a)^(1-a)
    a = 0.9
    rows = np.log(np.array([[a, 1 - a], [1 - a, a]]))
    logits = np.tile(rows, (20, 1))  # 40 clips, alternating: each split of 4 is balanced
    expected = 2 * a**a * (1 - a) ** (1 - a)
    mean, std = inception_score(logits, splits=10, shuffle=False)
    assert mean == pytest.approx(expected, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_metric_streams_merges_and_shuffles_like_audioldm_eval():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((103, 7)) * 3
    metric = InceptionScore()
    for chunk in np.array_split(logits, 4):
        metric.update(chunk)
    # the audioldm_eval recipe: RandomState(2020) permutation, then splits [i·N//10, (i+1)·N//10)
    x = logits[np.random.RandomState(2020).permutation(103)]
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    scores = []
    for i in range(10):
        c = p[i * 103 // 10 : (i + 1) * 103 // 10]
        scores.append(np.exp((c * np.log(c / c.mean(0))).sum(1).mean()))
    out = metric.compute()
    assert out["is"] == pytest.approx(np.mean(scores), rel=1e-12)
    assert out["is_std"] == pytest.approx(np.std(scores), rel=1e-9)
    other = InceptionScore()
    other.merge([metric.state_dict()])
    assert other.compute() == out


def test_too_few_clips():
    with pytest.raises(MetricError, match="at least 10"):
        inception_score(np.zeros((5, 3)))
