"""Controllability probes on synthesized clips: a note, N knocks, a crescendo, speech, and a
sampled bird (the General MIDI SoundFont's "Bird Tweet") for the animal probe."""

from __future__ import annotations

import numpy as np
import pytest

from foleyldm.evaluation.probes import (
    animal_of,
    cents,
    count_onsets,
    estimate_pitch,
    loudness_slope,
    mentions_speech,
    midi_to_hz,
    parse_count,
    parse_note,
    parse_trend,
    probe,
    probe_clips,
)
from tests.evaluation.audio_fixtures import SR, espeak, tone, white_noise

pytest.importorskip("librosa")


def harmonic_note(freq: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6))
    return (0.3 * y * np.exp(-t)).astype(np.float32)


def knocks(n: int, gap: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = np.zeros(int((n * gap + 0.5) * SR), np.float32)
    burst = rng.standard_normal(800) * np.exp(-np.arange(800) / 120)
    for i in range(n):
        start = int((0.2 + i * gap) * SR)
        y[start : start + 800] += 0.6 * burst
    return y


def test_prompt_parsing():
    assert parse_note("a cello playing C3") == pytest.approx(130.81, abs=0.01)
    assert parse_note("piano, A4, soft") == pytest.approx(440.0)
    assert parse_note("an F#2 bass note") == pytest.approx(midi_to_hz(42))
    assert parse_note("Bb3 on a trumpet") == pytest.approx(midi_to_hz(58))
    assert parse_note("a flute plays middle C") == pytest.approx(261.63, abs=0.01)
    assert parse_note("a 1000 Hz beep") == 1000.0
    assert parse_note("a dog barking") is None and parse_note("a4 paper rustling") is None
    assert parse_count("three knocks on a door") == 3
    assert parse_count("5 loud claps") == 5
    assert parse_count("a door knocking") is None
    assert parse_trend("an engine getting louder") == 1
    assert parse_trend("music fading out") == -1
    assert parse_trend("rain") is None
    assert mentions_speech("a man talking on the phone") and not mentions_speech("a cat")


def test_pitch_with_yin_within_a_few_cents():
    for freq in (130.81, 440.0, 987.77):
        f0 = estimate_pitch(harmonic_note(freq), SR, method="yin")
        assert f0 is not None and abs(cents(f0, freq)) < 15


@pytest.mark.slow
def test_pitch_with_pyin(request):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("pYIN compiles numba code on first use (up to a minute): run with -m slow")
    f0 = estimate_pitch(harmonic_note(220.0), SR, method="pyin")
    assert f0 is not None and abs(cents(f0, 220.0)) < 15
    assert estimate_pitch(np.zeros(SR, np.float32), SR) is None


def test_onset_count_and_loudness_trend():
    for n in (2, 4, 6):
        assert count_onsets(knocks(n), SR) == n
    noise = white_noise(seconds=2.0, amp=0.1)
    ramp = 10 ** (np.linspace(-30, 0, noise.size) / 20)  # +15 dB/s
    assert loudness_slope(noise * ramp, SR) == pytest.approx(15.0, rel=0.1)
    assert loudness_slope(noise * ramp[::-1], SR) == pytest.approx(-15.0, rel=0.1)
    assert abs(loudness_slope(noise, SR)) < 1.0


def test_probe_runs_what_the_prompt_asks():
    results = probe("a piano playing A4", harmonic_note(440.0), SR, pitch_method="yin")
    assert [(r.probe, r.passed) for r in results] == [("pitch_cents", True)]
    wrong = probe("a piano playing C4", harmonic_note(440.0), SR, pitch_method="yin")
    assert not wrong[0].passed and wrong[0].measured == pytest.approx(900, abs=15)
    (count,) = probe("four knocks on wood", knocks(4), SR)
    assert count.passed and count.measured == 4
    ramp = white_noise(2.0, 0.1) * 10 ** (np.linspace(-30, 0, 2 * SR) / 20)
    (trend,) = probe("a crowd getting louder", ramp, SR)
    assert trend.passed


def test_speech_presence_with_yamnet():
    pytest.importorskip("onnxruntime")
    from foleyldm.evaluation.backbones import BackboneError, load_backbone

    try:
        yamnet = load_backbone("yamnet")
    except BackboneError as err:
        pytest.skip(str(err))
    rendered = espeak("Hello there, this is a short sentence spoken by a machine.")
    if rendered is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav, sr = rendered
    (speech,) = probe("a man talking", wav, sr, yamnet=yamnet)  # type: ignore[arg-type]
    assert speech.passed
    (tone_clip,) = probe("a woman speaking", tone(440.0), SR, yamnet=yamnet)  # type: ignore[arg-type]
    assert not tone_clip.passed and tone_clip.measured < 0.1


def test_animal_parsing():
    assert animal_of("a dog barking") == "dog" and animal_of("puppies yapping") == "dog"
    assert (
        animal_of("a rooster crowing at dawn") == "rooster" and animal_of("crows cawing") == "bird"
    )
    assert animal_of("a cat purring") == "cat" and animal_of("a cow mooing") == "cow"
    assert animal_of("rain on a tin roof") is None and animal_of("a catapult") is None


def test_animal_presence_with_yamnet(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tinysoundfont")
    from foleyldm.audio.io import save_audio
    from foleyldm.data.music import Score, available, render
    from foleyldm.evaluation.backbones import BackboneError, load_backbone

    if not available():
        pytest.skip("no General MIDI SoundFont (apt-get install fluid-soundfont-gm)")
    try:
        yamnet = load_backbone("yamnet")
    except BackboneError as err:
        pytest.skip(str(err))
    # GM program 124 "Bird Tweet" is a recorded bird: YAMNet hears Bird (0.95 here), not Dog
    bird = render(Score(program=123, notes=[(0, 72, 2, 100), (2.5, 74, 2, 100)], bpm=120))
    (hit,) = probe("birds chirping", bird, SR, yamnet=yamnet)  # type: ignore[arg-type]
    assert hit.passed and hit.expected == "bird" and hit.measured > 0.8
    (miss,) = probe("a dog barking", bird, SR, yamnet=yamnet)  # type: ignore[arg-type]
    assert not miss.passed and miss.measured < 0.05
    (silent_dog,) = probe("a dog barking", tone(440.0), SR, yamnet=yamnet)  # type: ignore[arg-type]
    assert not silent_dog.passed
    # the best patch, not the clip mean: one call in 6 s of silence still counts
    padded = np.concatenate([np.zeros(3 * SR, np.float32), bird[:SR], np.zeros(2 * SR, np.float32)])
    (short,) = probe("a bird singing", padded, SR, yamnet=yamnet)  # type: ignore[arg-type]
    assert short.passed
    clips = {
        "a": ("birds chirping", save_audio(tmp_path / "a.wav", bird, SR)),
        "b": ("a dog barking", save_audio(tmp_path / "b.wav", bird, SR)),
        "c": ("rain falling", save_audio(tmp_path / "c.wav", bird, SR)),
    }
    summary = probe_clips(clips, yamnet)  # type: ignore[arg-type]
    assert summary["animal_probability_n"] == 2 and summary["animal_probability_pass"] == 0.5
    assert 0.4 < summary["animal_probability_mean"] < 0.6
