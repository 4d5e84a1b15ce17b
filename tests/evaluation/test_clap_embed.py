"""CLAP embeddings in ``foleyldm eval``: cached by file content and CLAP weights, never stale.

Clips: 1 s tones a semitone apart with a little noise (built here); the CLAP is the tiny
preset's (pretrained MiniLM text tower, random audio tower).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import soundfile as sf
import torch

from foleyldm.evaluation.clap_embed import CLAPEmbedder, clap_fingerprint
from foleyldm.evaluation.runner import evaluate
from tests.evaluation.audio_fixtures import SR, tone, white_noise

N = 4


def make_folder(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    for i in range(N):
        clip = tone(220.0 * 2 ** (i / 12), seconds=1.0, amp=0.4) + white_noise(1.0, 0.02, seed=i)
        sf.write(gen / f"clip{i}.wav", clip, SR)
    prompts = {f"clip{i}": f"a tone number {i}" for i in range(N)}
    return gen, prompts


@pytest.fixture
def audio_calls(tiny_pipe, monkeypatch):
    """Counts clips that reach the CLAP audio tower."""
    counter = {"n": 0}
    cls = type(tiny_pipe.clap)
    original = cls.encode_audio

    def counting(self, wav, sample_rate):
        counter["n"] += wav.shape[0]
        return original(self, wav, sample_rate)

    monkeypatch.setattr(cls, "encode_audio", counting)
    return counter


def run(gen, prompts, clap, cache):
    return evaluate(gen, gen, {}, ["clap", "retrieval"], prompts, clap, cache_dir=cache)


def test_second_run_reuses_and_an_edited_file_is_recomputed(tmp_path, tiny_pipe, audio_calls):
    gen, prompts = make_folder(tmp_path)
    cache = tmp_path / "cache"
    first = run(gen, prompts, tiny_pipe.clap, cache)
    assert audio_calls["n"] == N
    assert first.cache["clap-audio"] == {"computed": N, "cached": 0}
    assert first.cache["clap-text"] == {"computed": N, "cached": 0}
    assert {"clap", "t2a_r1", "t2a_r5", "t2a_r10", "t2a_mrr", "a2t_r1"} <= set(first.values["clap"])
    assert "text→audio R@1" in first.to_markdown()

    audio_calls["n"] = 0
    second = run(gen, prompts, tiny_pipe.clap, cache)
    assert audio_calls["n"] == 0
    assert second.cache["clap-audio"] == {"computed": 0, "cached": N}
    assert second.cache["clap-text"] == {"computed": 0, "cached": N}
    assert second.values == first.values  # identical numbers

    sf.write(gen / "clip2.wav", white_noise(1.0, amp=0.3, seed=9), SR)
    audio_calls["n"] = 0
    third = run(gen, prompts, tiny_pipe.clap, cache)
    assert audio_calls["n"] == 1
    assert third.cache["clap-audio"] == {"computed": 1, "cached": N - 1}
    assert third.values["clap"]["clap"] != first.values["clap"]["clap"]


def test_changed_clap_weights_never_read_old_entries(tmp_path, tiny_pipe):
    gen, prompts = make_folder(tmp_path)
    cache = tmp_path / "cache"
    run(gen, prompts, tiny_pipe.clap, cache)
    other = copy.deepcopy(tiny_pipe.clap)
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    assert clap_fingerprint(other) != clap_fingerprint(tiny_pipe.clap)
    result = run(gen, prompts, other, cache)
    assert result.cache["clap-audio"] == {"computed": N, "cached": 0}
    assert result.cache["clap-text"] == {"computed": N, "cached": 0}


def test_embeddings_equal_the_clap_and_texts_are_embedded_once(tmp_path, tiny_pipe):
    gen, _ = make_folder(tmp_path)
    clap = tiny_pipe.clap
    embedder = CLAPEmbedder(clap)  # no cache folder: texts are still kept in memory
    audio = embedder.audio({"clip0": gen / "clip0.wav"})
    wav, sr = sf.read(gen / "clip0.wav", dtype="float32")
    with torch.inference_mode():
        expected = clap.encode_audio(torch.from_numpy(wav)[None], sr)[0].numpy()
        text_expected = clap.encode_text(["a dog", "rain"]).numpy()
    np.testing.assert_allclose(audio["clip0"], expected, atol=1e-5)
    texts = embedder.text(["a dog", "rain", "a dog"])
    np.testing.assert_allclose(texts, text_expected[[0, 1, 0]], atol=1e-5)
    embedder.text(["rain"])
    assert embedder.counts["text"] == {"computed": 2, "cached": 0}


def test_clips_without_prompt_are_noted(tmp_path, tiny_pipe):
    gen, prompts = make_folder(tmp_path)
    del prompts["clip3"]
    result = evaluate(gen, gen, {}, ["retrieval"], prompts, tiny_pipe.clap)
    assert result.values["clap"]["retrieval_n"] == N - 1
    assert "clap" not in result.values["clap"]
    assert any("1 generated files have no prompt" in n for n in result.notes)
