"""Rendered instruments (SoundFont) and espeak-ng speech, checked by measurement.

Both need tools outside Python's core stack (a GM SoundFont + tinysoundfont; espeak-ng):
the tests skip when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foleyldm.data import music, speech
from foleyldm.data.manifest import read_manifest
from foleyldm.data.synth.dsp import fundamental_hz
from tests.data.cli_util import run_data

SR = 16000
needs_sf = pytest.mark.skipif(not music.available(), reason="needs tinysoundfont + a GM SoundFont")
needs_espeak = pytest.mark.skipif(not speech.available(), reason="needs espeak-ng")


def note(program: int, key: int, beats: float = 2.0) -> np.ndarray:
    return music.render(music.Score(program, [(0.0, key, beats, 100)], 60.0), SR, tail_s=0.2)


def autocorr_f0(wav: np.ndarray, fmin: float = 70.0, fmax: float = 1000.0) -> float:
    """Median pitch (Hz) of the voiced 40 ms frames by autocorrelation: the unbiased
    autocorrelation's first peak within 10 % of its highest (a later one would be a
    multiple of the period), refined by parabolic interpolation (a whole-sample lag alone
    is 1.4 % off at 440 Hz)."""
    n, out = int(0.04 * SR), []
    lo, hi = int(SR / fmax), int(SR / fmin)
    for i in range(0, wav.shape[0] - n, n // 2):
        x = wav[i : i + n] - wav[i : i + n].mean()
        if np.sqrt(np.mean(x**2)) < 0.01:
            continue
        ac = np.correlate(x, x, "full")[n - 1 :] / (n - np.arange(n))
        top = ac[lo:hi].max()
        if top < 0.5 * ac[0]:
            continue  # unvoiced
        lag = lo + int(np.argmax(ac[lo:hi] >= 0.9 * top))
        while lag + 1 < hi and ac[lag + 1] > ac[lag]:
            lag += 1
        if not lo < lag < hi - 1:
            continue
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        out.append(SR / (lag + 0.5 * (a - c) / (a - 2 * b + c)))
    return float(np.median(out))


@needs_sf
@pytest.mark.parametrize("name", ["flute", "violin", "piano", "trumpet"])
def test_a4_is_440_hz(name: str) -> None:
    inst = next(i for i in music.INSTRUMENTS if i.name == name)
    wav = note(inst.program, 69)
    sustain = wav[int(0.3 * SR) : int(1.8 * SR)]  # past the attack
    assert autocorr_f0(sustain, fmin=300, fmax=600) == pytest.approx(440.0, rel=0.01)
    # and the FFT: the strongest peak near the lowest one (vibrato spreads it into sidebands)
    assert fundamental_hz(sustain, SR) == pytest.approx(440.0, rel=0.03)


@needs_sf
def test_a4_by_pyin() -> None:
    librosa = pytest.importorskip("librosa")
    wav = note(73, 69)[int(0.3 * SR) : int(1.5 * SR)]
    f0, voiced, _ = librosa.pyin(wav, fmin=200, fmax=1000, sr=SR, frame_length=1024)
    assert np.nanmedian(f0[voiced]) == pytest.approx(440.0, rel=0.01)


@needs_sf
@pytest.mark.parametrize("program", [73, 40])  # flute, violin (piano partials are stretched)
def test_a_rendered_scale_has_the_notes_asked_for(program: int) -> None:
    steps = music.SCALES["major"]
    score = music.Score(program, [(i * 1.0, 60 + s, 0.95, 90) for i, s in enumerate(steps)], 120)
    wav = music.render(score, SR, tail_s=0.0)
    beat = SR // 2
    pitches = [
        autocorr_f0(wav[i * beat + beat // 4 : (i + 1) * beat - beat // 8], 150, 1200)
        for i in range(8)
    ]
    expected = [music.midi_to_hz(60 + s) for s in steps]  # C4 major: 261.6 ... 523.3 Hz
    np.testing.assert_allclose(pitches, expected, rtol=0.01)


@needs_sf
def test_random_scores_cover_every_kind_with_captions() -> None:
    scores = [music.random_score(np.random.default_rng([3, i])) for i in range(60)]
    assert {s.params["kind"] for s in scores} == {"note", "scale", "chord", "arpeggio", "beat"}
    for s in scores:
        assert " playing " in s.caption or " singing " in s.caption
        assert all(0 <= k <= 127 and 1 <= v <= 127 for _, k, _, v in s.notes)
    drums = next(s for s in scores if s.drums)
    assert "drum kit playing" in drums.caption and np.abs(music.render(drums, SR)).max() > 0.05


@needs_sf
def test_music_set_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_data(["render-music", str(tmp_path / "m"), "--count", "3", "--seed", "4"]) == 0
    recs = read_manifest(tmp_path / "m" / "manifest.jsonl")
    again = music.write_music_set(tmp_path / "m2", 3, seed=4)
    assert [r.captions for r in recs] == [r.captions for r in again]
    assert Path(recs[0].path).read_bytes() == Path(again[0].path).read_bytes()
    assert "3 clips" in capsys.readouterr().out and recs[0].license.startswith("MIT")


@needs_espeak
def test_women_speak_higher_and_quick_speech_is_shorter() -> None:
    text = "The train to the city leaves in ten minutes."
    woman = speech.speak(speech.Utterance(text, "en-us", "woman", "f3", ""), SR)
    man = speech.speak(speech.Utterance(text, "en-us", "man", "m3", ""), SR)
    assert autocorr_f0(woman, 70, 400) > 1.3 * autocorr_f0(man, 70, 400)
    slow = speech.speak(speech.Utterance(text, "en-us", "man", "m3", "slowly"), SR)
    quick = speech.speak(speech.Utterance(text, "en-us", "man", "m3", "quickly"), SR)
    assert quick.shape[0] < 0.7 * slow.shape[0]
    u = speech.Utterance(text, "en-us", "woman", "f3", "quickly")
    assert u.caption == "a woman speaking quickly in English"


@needs_espeak
def test_cli_speech(tmp_path: Path) -> None:
    assert run_data(["speech", str(tmp_path / "s"), "--count", "3", "--seed", "1"]) == 0
    recs = read_manifest(tmp_path / "s" / "manifest.jsonl")
    assert len(recs) == 3 and all(
        r.labels[0] == "speech" and " speaking" in r.captions[0] for r in recs
    )
