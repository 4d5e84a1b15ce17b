"""CLAP retrieval: R@k, MRR and audio→text R@1 against a brute-force ranking, a hand-made
case with known ranks, ties, and state merging."""

from __future__ import annotations

import numpy as np
import pytest

from foleyldm.evaluation import CLAPRetrieval, MetricError, retrieval_ranks


def brute_force(text: np.ndarray, audio: np.ndarray) -> dict[str, float]:
    """Rank every clip for every caption with explicit loops and a sort."""
    n = text.shape[0]

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    t2a, a2t = [], []
    for i in range(n):
        scores = [cos(text[i], audio[j]) for j in range(n)]
        order = sorted(range(n), key=lambda j: -scores[j])
        t2a.append(order.index(i) + 1)
        scores = [cos(text[j], audio[i]) for j in range(n)]
        order = sorted(range(n), key=lambda j: -scores[j])
        a2t.append(order.index(i) + 1)
    ranks = np.array(t2a)
    return {
        "t2a_r1": float(np.mean(ranks <= 1)),
        "t2a_r5": float(np.mean(ranks <= 5)),
        "t2a_r10": float(np.mean(ranks <= 10)),
        "t2a_mrr": float(np.mean(1.0 / ranks)),
        "a2t_r1": float(np.mean(np.array(a2t) <= 1)),
        "retrieval_n": float(n),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_on_random_embeddings(seed):
    rng = np.random.default_rng(seed)
    n, d = 40, 16
    audio = rng.standard_normal((n, d))
    text = audio + 3.0 * rng.standard_normal((n, d))  # related, so ranks spread over 1..n
    metric = CLAPRetrieval()
    metric.update(audio[:15] * 2.0, text[:15])  # scale does not matter
    metric.update(audio[15:], text[15:])
    got = metric.compute()
    expected = brute_force(text, audio)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert 0 < got["t2a_r1"] < got["t2a_r10"] < 1  # a non-trivial case


def test_hand_made_ranks():
    # clips on the unit circle; caption i leans further from clip 0 as i grows
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    text = np.array([[1.0, 0.0], [1.0, 0.1], [1.0, 0.2]])
    t2a, a2t = retrieval_ranks(text, audio)
    assert t2a.tolist() == [1, 2, 3]
    assert a2t.tolist() == [1, 2, 1]
    metric = CLAPRetrieval()
    metric.update(audio, text)
    out = metric.compute()
    assert out["t2a_r1"] == pytest.approx(1 / 3)
    assert out["t2a_r5"] == out["t2a_r10"] == 1.0
    assert out["t2a_mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert out["a2t_r1"] == pytest.approx(2 / 3)


def test_perfect_and_collapsed_embeddings():
    eye = np.eye(5)
    metric = CLAPRetrieval()
    metric.update(eye, eye)
    assert metric.compute()["t2a_r1"] == 1.0 and metric.compute()["t2a_mrr"] == 1.0
    # every clip the same vector: all tie, and ties count against the caption
    t2a, a2t = retrieval_ranks(np.eye(5), np.ones((5, 5)))
    assert t2a.tolist() == [5] * 5 and a2t.tolist() == [5] * 5


def test_state_merges_across_workers():
    rng = np.random.default_rng(3)
    audio, text = rng.standard_normal((12, 8)), rng.standard_normal((12, 8))
    whole = CLAPRetrieval()
    whole.update(audio, text)
    a, b = CLAPRetrieval(), CLAPRetrieval()
    a.update(audio[:5], text[:5])
    b.update(audio[5:], text[5:])
    a.merge([b.state_dict()])
    assert a.compute() == whole.compute()


def test_bad_inputs():
    metric = CLAPRetrieval()
    with pytest.raises(MetricError, match="no clips"):
        metric.compute()
    with pytest.raises(MetricError, match="3 clips but 2 captions"):
        metric.update(np.ones((3, 4)), np.ones((2, 4)))
    metric.update(np.eye(4)[:1], np.eye(4)[:1])
    with pytest.raises(MetricError, match="at least 2"):
        metric.compute()
    with pytest.raises(MetricError, match="all zeros"):
        retrieval_ranks(np.zeros((2, 3)), np.ones((2, 3)))
