"""CLAP score: cosine of paired embeddings; through a real (tiny, random) CLAP backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foleyldm.evaluation import CLAPScore


def test_cosine_mean_of_pairs():
    rng = np.random.default_rng(0)
    a, t = rng.standard_normal((6, 16)), rng.standard_normal((6, 16))
    metric = CLAPScore()
    metric.update(a[:4] * 3, t[:4])  # scale does not matter
    metric.update(a[4:], t[4:])
    expected = np.mean(
        [x @ y / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(a, t, strict=True)]
    )
    assert metric.compute()["clap"] == pytest.approx(expected, rel=1e-12)


def test_update_audio_uses_the_clap_interface(tiny_pipe):
    clap = tiny_pipe.clap
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    texts = ["a dog barking", "rain on a roof"]
    metric = CLAPScore(clap)
    metric.update_audio(wav, 16000, texts)
    with torch.inference_mode():
        expected = clap.similarity(clap.encode_audio(wav, 16000), clap.encode_text(texts)).mean()
    assert metric.compute()["clap"] == pytest.approx(float(expected), abs=1e-6)
