"""Tests of foleyldm.audio.mel against librosa and the original AudioLDM front end."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from foleyldm.audio.io import normalize_waveform, pad_or_trim
from foleyldm.audio.mel import (
    AUDIOLDM_16K,
    AUDIOLDM_16K_TRAIN,
    MelConfig,
    magnitude_spectrogram,
    mel_filterbank,
    mel_spectrogram,
)

librosa = pytest.importorskip("librosa")

SR = 16000
GRID = [(1024, 160, 64), (512, 128, 80), (2048, 256, 128), (400, 100, 40)]


def signal(kind: str, n: int = SR) -> np.ndarray:
    t = np.arange(n) / SR
    if kind == "sine":
        return (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    return (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)


def librosa_filters(cfg: MelConfig, dtype: type = np.float64) -> np.ndarray:
    return librosa.filters.mel(
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        htk=False,
        norm="slaney",
        dtype=dtype,
    )


def librosa_mel(x: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Linear mel [T, n_mels] in float64, center=True reflect (the inference path)."""
    spec = np.abs(
        librosa.stft(
            x.astype(np.float64),
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window="hann",
            center=True,
            pad_mode="reflect",
        )
    )
    return (librosa_filters(cfg) @ spec).T[: len(x) // cfg.hop_length]


@pytest.mark.parametrize(("n_fft", "hop", "n_mels"), GRID)
@pytest.mark.parametrize("kind", ["sine", "noise"])
def test_matches_librosa(n_fft: int, hop: int, n_mels: int, kind: str) -> None:
    cfg = MelConfig(n_fft=n_fft, hop_length=hop, win_length=n_fft, n_mels=n_mels)
    x = signal(kind)
    ref_mel = librosa_mel(x, cfg)
    ref = np.log(np.maximum(ref_mel, cfg.log_floor))
    out = mel_spectrogram(torch.from_numpy(x), cfg).double().numpy()
    assert out.shape == ref.shape == (len(x) // hop, n_mels)
    # The float32 STFT error is absolute (~1e-7 of the peak), and on the log scale an error
    # is a relative error of the mel value: bins of a pure sine far from the tone (mel just
    # above the 1e-5 floor) reach ~1e-4 absolute per element. So we measure the log-mel
    # error against the scale of the whole spectrogram, max|diff| / max|ref| (measured:
    # <= 1.1e-5 on the sine, ~2e-7 on noise), and the linear mel, where the error is
    # uniform, against its peak (measured <= 2.3e-7).
    assert np.abs(out - ref).max() / np.abs(ref).max() < 1e-4
    lin = np.exp(out) - np.maximum(ref_mel, cfg.log_floor)
    assert np.abs(lin).max() / ref_mel.max() < 1e-5


@pytest.mark.parametrize(
    "cfg",
    [MelConfig(n_fft=n, hop_length=h, win_length=n, n_mels=m) for n, h, m in GRID]
    + [
        MelConfig(n_fft=401, win_length=401, hop_length=100, n_mels=40),  # odd n_fft
        MelConfig(sample_rate=22050, n_fft=1024, n_mels=80, fmin=50.0, fmax=None),
        MelConfig(sample_rate=48000, n_fft=2048, n_mels=128, fmin=20.0, fmax=20000.0),
    ],
    ids=lambda c: f"{c.sample_rate}-{c.n_fft}-{c.n_mels}-{c.fmin}-{c.fmax}",
)
def test_filterbank_matches_librosa(cfg: MelConfig) -> None:
    fb = mel_filterbank(cfg)
    assert fb.dtype == torch.float32
    assert fb.shape == (cfg.n_mels, cfg.n_fft // 2 + 1)
    ref = librosa_filters(cfg, np.float32)
    # Absolute 1e-6 is loose for weights of ~1e-2, so also bound the relative error.
    np.testing.assert_allclose(fb.numpy(), ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("n_fft", "hop", "n_mels"), GRID)
def test_hifigan_padding_matches_manual(n_fft: int, hop: int, n_mels: int) -> None:
    cfg = MelConfig(n_fft=n_fft, hop_length=hop, win_length=n_fft, n_mels=n_mels)
    cfg = dataclasses.replace(cfg, padding="hifigan")
    x = torch.from_numpy(signal("noise"))
    pad = (n_fft - hop) // 2
    xp = torch.nn.functional.pad(x[None, None], (pad, pad), mode="reflect")[0, 0]
    window = torch.hann_window(n_fft, periodic=True)
    spec = torch.stft(xp, n_fft, hop, n_fft, window, center=False, return_complex=True).abs()
    fb = torch.from_numpy(librosa_filters(cfg, np.float32))
    ref = torch.log(torch.clamp(fb @ spec, min=1e-5)).T
    out = mel_spectrogram(x, cfg)
    assert out.shape == ref.shape == (SR // hop, n_mels)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_hifigan_odd_padding_keeps_frame_count() -> None:
    cfg = MelConfig(n_fft=1024, win_length=1024, hop_length=161, padding="hifigan")
    assert mel_spectrogram(torch.randn(161 * 20), cfg).shape == (20, 64)


@pytest.mark.parametrize("cfg", [AUDIOLDM_16K, AUDIOLDM_16K_TRAIN], ids=["center", "hifigan"])
def test_batch_equals_stacked_singles(cfg: MelConfig) -> None:
    x = torch.randn(3, 8000, generator=torch.Generator().manual_seed(0))
    batch = mel_spectrogram(x, cfg)
    assert batch.shape == (3, 50, 64)
    singles = torch.stack([mel_spectrogram(row, cfg) for row in x])
    torch.testing.assert_close(batch, singles, rtol=1e-6, atol=1e-6)
    nested = mel_spectrogram(x.reshape(3, 1, 8000), cfg)
    assert nested.shape == (3, 1, 50, 64)
    torch.testing.assert_close(nested[:, 0], batch, rtol=0, atol=0)


@pytest.mark.parametrize("cfg", [AUDIOLDM_16K, AUDIOLDM_16K_TRAIN], ids=["center", "hifigan"])
def test_ten_seconds_is_1024_frames(cfg: MelConfig) -> None:
    n = int(10.24 * 16000)
    assert n == 163840
    assert cfg.num_frames(n) == 1024
    assert cfg.num_samples(1024) == n
    assert cfg.frames_per_second == 100
    assert mel_spectrogram(torch.zeros(n), cfg).shape == (1024, 64)
    assert magnitude_spectrogram(torch.zeros(n), cfg).shape == (513, 1024)


@pytest.mark.parametrize("cfg", [AUDIOLDM_16K, AUDIOLDM_16K_TRAIN], ids=["center", "hifigan"])
def test_silence_is_log_floor(cfg: MelConfig) -> None:
    x = torch.zeros(2, 4000, requires_grad=True)
    out = mel_spectrogram(x, cfg)
    assert not torch.isnan(out).any()
    assert (out == out.flatten()[0]).all()
    assert out.flatten()[0].item() == pytest.approx(math.log(1e-5), abs=1e-6)
    out.sum().backward()  # the vocoder's mel loss backpropagates through silence
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_dtype_and_device() -> None:
    x = torch.from_numpy(signal("noise", 4000))
    out32 = mel_spectrogram(x)
    out64 = mel_spectrogram(x.double())
    assert out32.dtype == out64.dtype == torch.float32
    torch.testing.assert_close(out32, out64)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        out = mel_spectrogram(x.to(device))
        assert out.device.type == device
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.cpu(), out32, rtol=1e-5, atol=1e-4)


def test_a_first_call_in_inference_mode_does_not_break_training() -> None:
    """The cached window and filterbank are normal tensors even when first made under
    torch.inference_mode() (a benchmark, then a training step, in one process)."""
    cfg = dataclasses.replace(AUDIOLDM_16K, n_mels=48)  # a config no other test cached
    with torch.inference_mode():
        mel_spectrogram(torch.randn(4000), cfg)
    wav = torch.randn(4000, requires_grad=True)
    mel_spectrogram(wav, cfg).sum().backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all()


def test_too_short_waveform() -> None:
    with pytest.raises(ValueError, match="too short"):
        mel_spectrogram(torch.zeros(400))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmax": 8001.0}, "Nyquist"),
        ({"sample_rate": 8000}, "Nyquist"),  # default fmax 8000 > 4000
        ({"padding": "same"}, "padding"),
        ({"win_length": 2048}, "win_length"),
        ({"hop_length": 0}, "positive"),
        ({"n_mels": -1}, "positive"),
        ({"fmin": 9000.0, "fmax": None}, "fmin"),
        ({"fmin": -1.0}, "fmin"),
        ({"log_floor": 0.0}, "log_floor"),
        ({"hop_length": 2048, "padding": "hifigan"}, "hop_length"),
    ],
)
def test_config_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MelConfig(**kwargs)  # type: ignore[arg-type]


def test_config_dict_round_trip_and_presets() -> None:
    assert MelConfig.from_dict(AUDIOLDM_16K_TRAIN.to_dict()) == AUDIOLDM_16K_TRAIN
    with pytest.raises(ValueError, match="unknown"):
        MelConfig.from_dict({"n_fft": 1024, "nfft": 1024})
    # The two AudioLDM presets differ only in their padding (REFERENCE.md §1).
    assert dataclasses.replace(AUDIOLDM_16K_TRAIN, padding="center") == AUDIOLDM_16K
    expected = MelConfig(
        sample_rate=16000,
        n_fft=1024,
        hop_length=160,
        win_length=1024,
        n_mels=64,
        fmin=0.0,
        fmax=8000.0,
        log_floor=1e-5,
        padding="center",
    )
    assert expected == AUDIOLDM_16K


# --- the original AudioLDM front end (reference/audioldm-original-tiny, README "e.") ---


def _shared_dir() -> Path:
    env = os.environ.get("FOLEYLDM_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"


CASES = _shared_dir() / "reference" / "audioldm-original-tiny" / "cases.safetensors"


@pytest.fixture(scope="module")
def cases() -> dict[str, torch.Tensor]:
    if not CASES.is_file():
        pytest.skip(f"reference cases not found at {CASES} (set FOLEYLDM_SHARED to the folder)")
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(CASES)).items() if k.startswith("mel.")}


def test_reference_inference_mel(cases: dict[str, torch.Tensor]) -> None:
    out = mel_spectrogram(cases["mel.wav_processed"], AUDIOLDM_16K)
    assert out.shape == cases["mel.fbank_infer"].shape == (200, 64)
    torch.testing.assert_close(out, cases["mel.fbank_infer"], rtol=0, atol=1e-5)  # 2.4e-6


def test_reference_training_mel(cases: dict[str, torch.Tensor]) -> None:
    out = mel_spectrogram(cases["mel.wav_processed"], AUDIOLDM_16K_TRAIN)
    assert out.shape == (200, 64)
    torch.testing.assert_close(out, cases["mel.fbank_train"], rtol=0, atol=1e-5)  # 9.5e-7


def test_reference_waveform_processing(cases: dict[str, torch.Tensor]) -> None:
    # read_wav_file: normalise, pad/crop to the segment, then peak-normalise again.
    wav = normalize_waveform(pad_or_trim(normalize_waveform(cases["mel.wav_in"]), 32000))
    torch.testing.assert_close(wav, cases["mel.wav_processed"], rtol=0, atol=1e-6)  # 3e-8
