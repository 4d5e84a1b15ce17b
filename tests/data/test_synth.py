"""Synthesized Foley checked by measurement: decay times, fundamentals, RT60, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleyldm.data.manifest import read_manifest
from foleyldm.data.synth import KINDS, machines, modal, synth_clip, textures, write_synth_set
from foleyldm.data.synth.dsp import decay_time, energy_decay_db, fundamental_hz, spectral_peaks
from foleyldm.data.synth.rooms import (
    ROOM_PRESETS,
    Room,
    apply_room,
    random_room,
    room_impulse_response,
)
from tests.data.cli_util import run_data

SR = 16000


def struck(material: str, size_m: float, strength: str = "medium", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wav, _, _ = modal.impact(material, "medium", strength, SR, rng, size_m=size_m, seconds=6.0)
    return wav


@pytest.mark.parametrize("size_m", [0.1, 0.3])
def test_metal_rings_longer_than_wood_of_the_same_size(size_m: float) -> None:
    t_metal = decay_time(struck("metal", size_m), SR)
    t_wood = decay_time(struck("wood", size_m), SR)
    t_glass = decay_time(struck("glass", size_m), SR)
    # loss factors 0.0009 (metal) vs 0.035 (wood): T60 ≈ 2.2 / (f·η) at the fundamental
    assert t_metal > 10 * t_wood
    assert t_metal > t_glass > t_wood
    f0 = 90.0 / size_m
    assert t_metal == pytest.approx(2.2 / (f0 * 0.0009), rel=0.2)


@pytest.mark.parametrize("material", ["wood", "metal", "glass", "stone", "plastic"])
def test_bigger_objects_sound_lower(material: str) -> None:
    sizes = [0.08, 0.2, 0.6]
    f0s = [fundamental_hz(struck(material, s), SR) for s in sizes]
    assert f0s[0] > f0s[1] > f0s[2]
    expected = modal.MATERIALS[material].speed / 0.2
    assert f0s[1] == pytest.approx(expected, rel=0.02)  # f0 = speed / size


def test_harder_strikes_are_brighter() -> None:
    def centroid(x: np.ndarray) -> float:
        mag = np.abs(np.fft.rfft(x[: SR // 2]))
        return float((np.fft.rfftfreq(SR // 2, 1 / SR) * mag).sum() / mag.sum())

    assert centroid(struck("stone", 0.2, "hard")) > 1.3 * centroid(struck("stone", 0.2, "light"))


def test_metal_plate_modes_follow_the_material_ratios() -> None:
    peaks = spectral_peaks(struck("metal", 0.3, "hard"), SR, floor_db=-40)
    f0 = 300.0
    for ratio in modal.MATERIALS["metal"].ratios[:4]:  # within the 1 % detuning
        assert np.min(np.abs(peaks - f0 * ratio)) < 0.012 * f0 * ratio


def test_bouncing_hits_get_closer_together() -> None:
    rng = np.random.default_rng(3)
    wav, caption, p = modal.impact("wood", "small", "medium", SR, rng, bounce=True, seconds=3.0)
    assert "bouncing" in caption and int(p["hits"]) >= 3  # type: ignore[call-overload]
    env = np.abs(wav)
    onsets = np.nonzero((env[1:] > 0.3 * env.max()) & (env[:-1] <= 0.3 * env.max()))[0]
    onsets = onsets[np.insert(np.diff(onsets) > 0.03 * SR, 0, True)]
    gaps = np.diff(onsets)
    assert len(gaps) >= 2 and np.all(np.diff(gaps) < 0)


def test_spring_pitch_falls_as_it_decays() -> None:
    wav, _, p = modal.spring(SR, np.random.default_rng(0), seconds=2.0)
    on = int(np.argmax(np.abs(wav) > 0))
    early = fundamental_hz(wav[on : on + SR // 8], SR)
    late = fundamental_hz(wav[on + SR : on + SR + SR // 4], SR)
    assert early > late >= 0.95 * float(p["f0"])  # type: ignore[arg-type]


def test_engine_pulse_rate_follows_rpm() -> None:
    wav, caption, _ = machines.engine("medium", "idling", SR, np.random.default_rng(0), 3.0)
    assert caption == "a car engine idling"
    # 4 cylinders, four-stroke: 2 firings per revolution; idle ≈ 850 rpm ± 10 % → ≈ 28 Hz
    env = np.abs(wav) ** 2
    spec = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(env.shape[0], 1 / SR)
    band = (freqs > 15) & (freqs < 60)
    assert 0.9 * 850 / 30 <= freqs[band][np.argmax(spec[band])] <= 1.1 * 850 / 30


def test_heavier_rain_is_louder_and_denser() -> None:
    def measure(level: str) -> tuple[float, float]:
        wav, _, _ = textures.rain(level, SR, np.random.default_rng(0), seconds=2.0)
        frames = np.sqrt((wav[: wav.shape[0] // 160 * 160].reshape(-1, 160) ** 2).mean(1))
        return float(np.sqrt(np.mean(wav**2))), float(frames.std() / frames.mean())

    (r1, cv1), (r2, cv2), (r3, cv3) = (measure(lv) for lv in ("light", "moderate", "heavy"))
    assert r1 < r2 < r3  # more drops, more energy
    assert cv1 > cv2 > cv3  # more drops overlap: a steadier envelope


def test_every_kind_renders_finite_with_a_caption() -> None:
    for i, kind in enumerate(KINDS):
        clip = synth_clip(7, i, SR, kind=kind, room_prob=0.0)
        assert clip.kind == kind and clip.caption and clip.category
        assert clip.waveform.dtype == np.float32 and np.isfinite(clip.waveform).all()
        assert 0.5 * SR < clip.waveform.shape[0] <= 10.24 * SR
        assert np.abs(clip.waveform).max() == pytest.approx(0.9, abs=1e-3)
    with pytest.raises(ValueError, match="unknown synth kind"):
        synth_clip(0, 0, kind="theremin")


def test_same_seed_same_clip_other_seed_other_clip() -> None:
    a, b = synth_clip(5, 3), synth_clip(5, 3)
    assert a.caption == b.caption and np.array_equal(a.waveform, b.waveform)
    assert a.params == b.params
    c = synth_clip(6, 3, kind=a.kind)
    assert c.waveform.shape != a.waveform.shape or not np.array_equal(a.waveform, c.waveform)


# ---- rooms --------------------------------------------------------------------------------
def test_room_rt60_measured_by_schroeder_matches_sabine() -> None:
    rng = np.random.default_rng(0)
    for caption in ROOM_PRESETS:
        for _ in range(2):
            room = random_room(rng, outdoor_prob=0.0)
            ir = room_impulse_response(room, SR, rng)
            measured = decay_time(ir, SR, -5, -35)  # T30
            assert measured == pytest.approx(room.rt60, rel=0.2), (caption, room)


def test_reverberance_grows_with_distance_as_diffuse_field_theory_says() -> None:
    def drr_db(distance: float) -> float:
        room = Room("in a hall", (20.0, 15.0, 8.0), 0.15, distance)
        ir = room_impulse_response(room, SR, np.random.default_rng(1))
        k = int(np.argmax(np.abs(ir)))
        direct = float(np.sum(ir[max(0, k - 8) : k + 8] ** 2))
        return 10 * np.log10(direct / float(np.sum(ir**2) - direct))

    near, far = drr_db(2.0), drr_db(8.0)
    # theory: DRR = R / (16π d²): 4× the distance is 12 dB less direct sound
    assert near - far == pytest.approx(12.0, abs=1.5)
    room = Room("in a hall", (20.0, 15.0, 8.0), 0.15, 2.0)
    assert near == pytest.approx(10 * np.log10(room.room_constant / (16 * np.pi * 4)), abs=1.5)


def test_apply_room_adds_a_tail_and_keeps_the_peak() -> None:
    rng = np.random.default_rng(0)
    room = Room("in a tiled bathroom", (2.5, 2.0, 2.4), 0.04, 1.0)
    click = np.zeros(SR // 10)
    click[100] = 0.5
    ir = room_impulse_response(room, SR, rng)
    wet = apply_room(click, ir)
    assert wet.shape[0] == click.shape[0] + ir.shape[0] - 1 - int(np.argmax(np.abs(ir)))
    assert np.abs(wet).max() == pytest.approx(0.5)
    assert apply_room(click, ir, max_samples=SR).shape[0] == SR
    assert int(np.argmax(np.abs(wet))) == 100  # the propagation delay is removed
    assert decay_time(wet, SR, -5, -25) == pytest.approx(room.rt60, rel=0.2)
    outdoor = Room("outdoors, far away", (0, 0, 0), 1.0, 100.0, outdoor=True)
    far = apply_room(click, room_impulse_response(outdoor, SR, rng))
    assert energy_decay_db(far)[SR // 10] < -60  # no reverberant tail outdoors


def test_synth_set_writes_flac_and_manifest(tmp_path: Path) -> None:
    recs = write_synth_set(tmp_path / "s", count=4, seed=11)
    again = [synth_clip(11, i) for i in range(4)]
    man = read_manifest(tmp_path / "s" / "manifest.jsonl")
    assert [r.captions for r in man] == [[c.caption] for c in again] == [r.captions for r in recs]
    for rec, clip in zip(man, again, strict=True):
        data, sr = sf.read(rec.path, dtype="float32")
        assert sr == SR and rec.license == "CC0-1.0" and rec.labels[0] == clip.category
        np.testing.assert_allclose(data, clip.waveform, atol=1.5 / 32768)


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_data(["synth", str(tmp_path / "out"), "--count", "3", "--seed", "2"]) == 0
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 3
    assert "3 clips" in capsys.readouterr().out
