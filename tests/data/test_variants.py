"""Variants of rare clips, checked by measurement: speed moves pitch and length together,
runs have the drawn number of calls, the background sits at the drawn SNR, held-out clips
are never varied, and a set is remade exactly from its seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleyldm.audio.io import save_audio
from foleyldm.data.manifest import ClipRecord, read_manifest, write_manifest
from foleyldm.data.synth.dsp import fundamental_hz
from foleyldm.data.variants import matching, vary, write_variants
from tests.data.cli_util import run_data

SR = 16000


def tone(f0: float, seconds: float, tail: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3)) * np.hanning(t.size)
    return np.concatenate([x, np.zeros(int(tail * SR))]).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_speed_moves_pitch_and_length_together(seed: int) -> None:
    x = tone(400.0, 0.5)
    y, params, suffix = vary(x, SR, np.random.default_rng(seed), 0.0, 0.0, 0.0)
    f = params["speed"]
    assert 0.8 <= f <= 1.25 and suffix == "" and set(params) == {"speed", "peak"}
    assert y.shape[0] == pytest.approx(x.shape[0] / f, abs=2)
    assert fundamental_hz(y, SR) == pytest.approx(400.0 * f, rel=0.03)
    assert np.abs(y).max() == pytest.approx(params["peak"], rel=1e-3)


def test_short_clips_become_runs_of_calls() -> None:
    x = tone(300.0, 0.3)
    for seed in range(4):
        y, params, _ = vary(x, SR, np.random.default_rng(seed), 0.0, 1.0, 0.0)
        # count the bursts: runs of frames above -30 dB of the loudest, over 10 ms frames
        frames = y[: y.size // 160 * 160].reshape(-1, 160)
        level = 20 * np.log10(np.abs(frames).max(1) + 1e-9)
        on = level > level.max() - 30
        bursts = int(on[0]) + int(np.sum(on[1:] & ~on[:-1]))
        assert bursts == params["calls"] and 2 <= params["calls"] <= 4
    long = tone(300.0, 2.0)
    _, params, _ = vary(long, SR, np.random.default_rng(0), 0.0, 1.0, 0.0)
    assert "calls" not in params  # a long clip stays one call


def test_background_sits_at_the_drawn_snr() -> None:
    x = tone(500.0, 1.0, tail=1.0)
    y, params, _ = vary(x, SR, np.random.default_rng(7), 0.0, 0.0, 1.0)
    n_sig = int(1.0 * SR / params["speed"])
    tail = y[n_sig + 200 :]  # the resampled tone's tail is the noise alone
    p_noise = float(np.mean(tail.astype(np.float64) ** 2))
    p_total = float(np.mean(y.astype(np.float64) ** 2))
    snr = 10 * np.log10((p_total - p_noise) / p_noise)
    assert snr == pytest.approx(params["noise_snr_db"], abs=1.0)


def test_room_variant_is_captioned_and_longer() -> None:
    x = tone(400.0, 0.5)
    y, params, suffix = vary(x, SR, np.random.default_rng(3), 1.0, 0.0, 0.0)
    assert params["room"] in suffix and suffix.startswith((" ", ", "))
    assert y.shape[0] >= int(x.shape[0] / params["speed"]) - 2


def _manifest(tmp_path: Path) -> list[ClipRecord]:
    recs = []
    for name, caption, split in [
        ("bark_a", "a dog barking", "train"),
        ("bark_b", "a dog barks twice", "test"),
        ("rain", "rain on a roof", "train"),
        ("yip", "a small dog yapping", "valid"),
    ]:
        path = save_audio(tmp_path / "src" / f"{name}.wav", tone(450.0, 0.4), SR)
        recs.append(
            ClipRecord(
                path=str(path),
                duration=0.4,
                sample_rate=SR,
                channels=1,
                captions=[caption],
                labels=["dog" if "dog" in caption else "rain"],
                source="test-src",
                license="CC0-1.0",
                split=split,
            )
        )
    return recs


def test_only_train_clips_are_varied_and_variants_stay_in_train(tmp_path: Path) -> None:
    recs = _manifest(tmp_path)
    assert [r.path for r in matching(recs, "dog|bark")] == [recs[0].path]
    out = write_variants(recs, tmp_path / "v", "dog|bark", copies=3, seed=1)
    assert len(out) == 3 and all(r.split == "train" for r in out)
    assert all(r.meta["variant_of"] == recs[0].path for r in out)
    assert all(r.captions[0].startswith("a dog barking") for r in out)
    assert all(r.labels == ["dog"] and r.license == "CC0-1.0" for r in out)
    back = read_manifest(tmp_path / "v" / "manifest.jsonl")
    assert [r.path for r in back] == [r.path for r in out]
    for r in back:
        info = sf.info(r.path)
        assert info.samplerate == SR and info.frames / SR == pytest.approx(r.duration, abs=1e-3)
    # the same seed remakes the set exactly; another seed makes another one
    again = write_variants(recs, tmp_path / "v2", "dog|bark", copies=3, seed=1)
    other = write_variants(recs, tmp_path / "v3", "dog|bark", copies=3, seed=2)
    a, b, c = (sf.read(s[0].path)[0] for s in (out, again, other))
    assert np.array_equal(a, b) and not (a.shape == c.shape and np.array_equal(a, c))
    with pytest.raises(ValueError, match="no train-split clip"):
        write_variants(recs, tmp_path / "v4", "violin", copies=2)
    with pytest.raises(ValueError, match="copies"):
        write_variants(recs, tmp_path / "v5", "dog", copies=0)


def test_cli_variants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", _manifest(tmp_path))
    argv = ["variants", str(manifest), str(tmp_path / "out"), "--match", "bark", "--copies", "2"]
    assert run_data(argv) == 0
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 2
    assert "2 variants of 1 clips" in capsys.readouterr().out
