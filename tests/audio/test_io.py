"""Tests of foleyldm.audio.io on synthetic signals written to tmp_path."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from foleyldm.audio import io as audio_io
from foleyldm.audio.io import (
    AudioError,
    load_audio,
    normalize_waveform,
    pad_or_trim,
    resample,
    save_audio,
)
from foleyldm.errors import FoleyError


def sine(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(wav: torch.Tensor, sr: int) -> float:
    spec = np.abs(np.fft.rfft(wav.numpy() * np.hanning(wav.shape[-1])))
    return float(np.fft.rfftfreq(wav.shape[-1], 1 / sr)[spec.argmax()])


def assert_one_line_naming(err: pytest.ExceptionInfo[AudioError], name: str) -> None:
    msg = str(err.value)
    assert name in msg
    assert "\n" not in msg


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# 16-bit: libsndfile writes x·32767 and reads n/32768, so the error is below 1.5/32768.
@pytest.mark.parametrize(
    ("suffix", "subtype", "atol"),
    [
        (".wav", "PCM_16", 2 / 32768),
        (".wav", "FLOAT", 0.0),
        (".flac", "PCM_16", 2 / 32768),
        (".flac", "PCM_24", 2 / 2**23),
        (".ogg", None, 0.05),  # Vorbis is lossy: only "clearly the same signal"
    ],
)
def test_round_trip(tmp_path: Path, suffix: str, subtype: str | None, atol: float) -> None:
    x = np.stack([sine(440, 16000), sine(1234.5, 16000, amp=0.3)])  # [2, N]
    out = save_audio(tmp_path / f"a{suffix}", torch.from_numpy(x), 16000, subtype=subtype)
    assert out == tmp_path / f"a{suffix}"
    y, sr = load_audio(out, sample_rate=None, mono=False)
    assert sr == 16000
    assert y.dtype == torch.float32
    assert y.shape == x.shape
    assert np.abs(y.numpy() - x).max() <= atol
    if suffix == ".ogg":
        assert np.corrcoef(y.numpy().ravel(), x.ravel())[0, 1] > 0.999


def test_save_accepts_numpy_and_leading_singletons(tmp_path: Path) -> None:
    x = sine(440, 8000, seconds=0.25)
    save_audio(tmp_path / "np.wav", x, 8000)
    save_audio(tmp_path / "b11.wav", torch.from_numpy(x)[None, None], 8000)
    a, _ = load_audio(tmp_path / "np.wav", sample_rate=None)
    b, _ = load_audio(tmp_path / "b11.wav", sample_rate=None)
    assert a.shape == (2000,)
    assert torch.equal(a, b)
    assert sf.info(str(tmp_path / "np.wav")).subtype == "PCM_16"


def test_save_clips_pcm_and_keeps_float(tmp_path: Path) -> None:
    x = np.array([0.0, 1.7, -3.0, 0.25], dtype=np.float32)
    save_audio(tmp_path / "c.wav", x, 16000)
    save_audio(tmp_path / "f.wav", x, 16000, subtype="FLOAT")
    clipped, _ = load_audio(tmp_path / "c.wav", sample_rate=None)
    kept, _ = load_audio(tmp_path / "f.wav", sample_rate=None)
    np.testing.assert_allclose(clipped.numpy(), [0.0, 1.0, -1.0, 0.25], atol=2 / 32768)
    np.testing.assert_array_equal(kept.numpy(), x)


def test_load_from_file_like_and_bytes(tmp_path: Path) -> None:
    x = sine(440, 16000, seconds=0.5)
    path = save_audio(tmp_path / "m.flac", x, 16000)
    data = path.read_bytes()
    a, _ = load_audio(io.BytesIO(data))
    b, _ = load_audio(data)
    c, _ = load_audio(path)
    assert torch.equal(a, c)
    assert torch.equal(b, c)


def test_stereo_mixdown_and_channel_choice(tmp_path: Path) -> None:
    left = sine(440, 16000, seconds=0.5)
    right = np.full_like(left, -0.25)
    path = save_audio(tmp_path / "st.wav", np.stack([left, right]), 16000, subtype="FLOAT")
    mono, _ = load_audio(path)
    both, _ = load_audio(path, mono=False)
    first, _ = load_audio(path, channel=0)
    last, _ = load_audio(path, channel=-1)
    assert mono.shape == first.shape == (8000,)
    assert both.shape == (2, 8000)
    np.testing.assert_allclose(mono.numpy(), (left + right) / 2, atol=1e-7)
    np.testing.assert_array_equal(first.numpy(), left)
    np.testing.assert_array_equal(last.numpy(), right)
    with pytest.raises(AudioError) as err:
        load_audio(path, channel=2)
    assert_one_line_naming(err, str(path))
    assert "channel 2" in str(err.value)


def test_mono_false_on_mono_file_keeps_channel_axis(tmp_path: Path) -> None:
    path = save_audio(tmp_path / "m.wav", sine(440, 16000, 0.1), 16000)
    wav, _ = load_audio(path, mono=False)
    assert wav.shape == (1, 1600)


@pytest.mark.parametrize("orig_sr", [44100, 48000])
def test_load_resamples_keeping_frequency_and_length(tmp_path: Path, orig_sr: int) -> None:
    path = save_audio(tmp_path / "hi.wav", sine(1000, orig_sr), orig_sr, subtype="FLOAT")
    wav, sr = load_audio(path, sample_rate=16000)
    assert sr == 16000
    assert abs(wav.shape[-1] - 16000) <= 1
    assert peak_hz(wav, 16000) == pytest.approx(1000, abs=1.0)
    # Steady-state amplitude survives (VHQ pass band is flat to well above 1 kHz).
    assert wav[2000:-2000].abs().max().item() == pytest.approx(0.5, abs=2e-3)


def test_resample_batched_matches_rows_and_identity() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4800, generator=g)
    y = resample(x, 48000, 16000)
    assert y.shape == (2, 3, 1600)
    assert y.dtype == torch.float32
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(y[i, j], resample(x[i, j], 48000, 16000))
    assert resample(x, 16000, 16000) is x
    assert resample(x.double(), 48000, 16000).dtype == torch.float64
    assert resample(torch.zeros(2, 0), 48000, 16000).shape == (2, 0)


def test_max_seconds(tmp_path: Path) -> None:
    path = save_audio(tmp_path / "long.wav", sine(440, 16000, seconds=2.0), 16000)
    wav, _ = load_audio(path, max_seconds=0.5)
    assert wav.shape == (8000,)


def test_normalize_waveform() -> None:
    g = torch.Generator().manual_seed(1)
    x = 0.3 * torch.randn(2, 16000, generator=g) + torch.tensor([[0.2], [-1.5]])
    y = normalize_waveform(x)
    assert y.dtype == torch.float32
    assert y.mean(dim=-1).abs().max() < 1e-6
    torch.testing.assert_close(y.abs().amax(dim=-1), torch.full((2,), 0.5), rtol=1e-6, atol=0)
    torch.testing.assert_close(
        normalize_waveform(x, peak=0.9).abs().amax(-1), torch.full((2,), 0.9)
    )


@pytest.mark.parametrize("value", [0.0, 0.3, -0.7])
def test_normalize_silence_and_constant_give_zeros(value: float) -> None:
    x = torch.full((3, 1000), value)
    y = normalize_waveform(x)
    assert torch.isfinite(y).all()
    assert torch.equal(y, torch.zeros_like(x))
    assert torch.equal(normalize_waveform(x, eps=0.0), torch.zeros_like(x))


def test_load_normalize(tmp_path: Path) -> None:
    path = save_audio(tmp_path / "n.wav", 0.1 * sine(440, 16000, 0.5) + 0.05, 16000, "FLOAT")
    wav, _ = load_audio(path, normalize=True)
    assert wav.abs().max().item() == pytest.approx(0.5, abs=1e-6)
    assert abs(wav.mean().item()) < 1e-6


def test_pad_or_trim() -> None:
    x = torch.arange(1.0, 7.0).reshape(2, 3)
    assert torch.equal(pad_or_trim(x, 2), x[:, :2])
    assert torch.equal(pad_or_trim(x, 3), x)
    assert torch.equal(pad_or_trim(x, 5)[:, 3:], torch.zeros(2, 2))
    assert torch.equal(pad_or_trim(x, 5)[:, :3], x)
    with pytest.raises(ValueError):
        pad_or_trim(x, -1)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert_one_line_naming(err, str(path))
    assert "not found" in str(err.value)
    assert isinstance(err.value, FoleyError)
    assert isinstance(err.value, ValueError)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert_one_line_naming(err, str(path))
    with pytest.raises(AudioError) as err:
        load_audio(io.BytesIO(path.read_bytes()))
    assert_one_line_naming(err, "<in-memory audio>")


def test_empty_files(tmp_path: Path) -> None:
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(AudioError) as err:
        load_audio(zero_bytes)
    assert_one_line_naming(err, str(zero_bytes))
    no_samples = tmp_path / "nosamples.wav"
    sf.write(str(no_samples), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError) as err:
        load_audio(no_samples)
    assert_one_line_naming(err, str(no_samples))
    assert "0 samples" in str(err.value)


def test_nan_in_file(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    sf.write(str(path), np.array([0.0, np.nan, 0.1], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert_one_line_naming(err, str(path))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_save_refuses_non_finite(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "bad.wav"
    with pytest.raises(AudioError) as err:
        save_audio(path, torch.tensor([0.0, bad, 0.1]), 16000)
    assert_one_line_naming(err, str(path))
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_bad_suffix_subtype_and_shape(tmp_path: Path) -> None:
    x = np.zeros(100, np.float32)
    with pytest.raises(AudioError, match="suffix"):
        save_audio(tmp_path / "a.mp4", x, 16000)
    with pytest.raises(AudioError, match="FLOAT"):
        save_audio(tmp_path / "a.flac", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError):
        save_audio(tmp_path / "a.wav", np.zeros((2, 2, 100), np.float32), 16000)
    with pytest.raises(AudioError, match=r"\[C, N\]"):
        save_audio(tmp_path / "a.wav", np.zeros((16000, 2), np.float32), 16000)
    assert list(tmp_path.iterdir()) == []


def test_save_creates_parents_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "x.wav"
    save_audio(path, sine(440, 16000, 0.1), 16000)
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_audio(tmp_path / "keep.wav", sine(440, 16000, 0.1), 16000)
    before = path.read_bytes()

    def half_write(file: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        file.write(b"RIFF\x00\x00")  # a partial header, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audio_io.sf, "write", half_write)
    with pytest.raises(AudioError) as err:
        save_audio(path, sine(220, 16000, 0.2), 16000)
    assert_one_line_naming(err, str(path))
    assert "No space left" in str(err.value)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(audio_io.sf, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_audio(path, sine(220, 16000, 0.2), 16000)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = save_audio(tmp_path / "o.flac", sine(440, 16000, 0.1), 16000)
    save_audio(path, sine(880, 16000, 0.2), 16000)
    wav, _ = load_audio(path, sample_rate=None)
    assert wav.shape == (3200,)
    assert [p.name for p in tmp_path.iterdir()] == ["o.flac"]
