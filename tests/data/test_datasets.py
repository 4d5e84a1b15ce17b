"""Augmentation (mix at SNR, concatenation, captions) and the manifest dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from foleyldm.data.augment import (
    Augmenter,
    concat_caption,
    concatenate,
    mix_at_snr,
    mix_caption,
)
from foleyldm.data.datasets import EpochSampler, ManifestDataset, collate, level_db
from foleyldm.data.manifest import ClipRecord

SR = 16000


def test_mix_at_snr_hits_the_requested_ratio() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(SR, generator=g), 3 * torch.randn(SR // 2, generator=g)
    for snr in (-10.0, 0.0, 12.5):
        mixed = mix_at_snr(a, b, snr)
        noise = mixed - a
        assert mixed.shape == a.shape and torch.all(noise[SR // 2 :] == 0)
        measured = 10 * np.log10(float(a.pow(2).mean()) / float(noise.pow(2).mean()))
        assert measured == pytest.approx(snr, abs=1e-3)
    assert torch.equal(mix_at_snr(a, torch.zeros(SR), 0.0), a)


def test_captions_of_compositions() -> None:
    assert mix_caption("A dog barks.", "Rain falls", 0.0) == "A dog barks and rain falls"
    assert mix_caption("a dog barks", "rain", 10.0) == "a dog barks with rain in the background"
    assert mix_caption("a dog barks", "rain", -10.0) == "rain with a dog barks in the background"
    assert (
        concat_caption("A door slams.", "A baby cries") == "A door slams followed by a baby cries"
    )
    assert mix_caption("a", "TV news", 0) == "a and TV news"  # acronyms keep their case


def test_concatenate_places_a_then_b() -> None:
    a, b = torch.ones(SR), -torch.ones(SR)
    out = concatenate(a, b, SR, split=0.25, fade=100)
    k = SR // 4
    assert out.shape == (SR,)
    assert torch.all(out[: k - 100] == 1) and torch.all(out[k:] == -1)
    assert torch.all(out[k - 100 : k] <= 1) and torch.all(out[k - 100 : k] >= -1)
    short = concatenate(a[:100], b[:100], 1000, split=0.5)
    assert short.shape == (1000,) and torch.all(short[100:340] == 0)


def test_augmenter_probabilities_and_determinism() -> None:
    clips = [
        (torch.randn(SR, generator=torch.Generator().manual_seed(i)), f"c{i}") for i in range(5)
    ]

    def run(seed: int) -> list[tuple[str, str]]:
        rng = np.random.default_rng(seed)
        aug = Augmenter(p_mix=0.5, p_concat=0.3)
        out = []
        for k in range(200):
            wav, cap, op = aug(clips[k % 5], lambda: clips[int(rng.integers(5))], rng)
            out.append((cap, op))
            assert wav.shape == (SR,)
        return out

    ops = [op for _, op in run(0)]
    assert run(0) == run(0)
    assert 0.4 < ops.count("mix") / 200 < 0.6 and 0.2 < ops.count("concat") / 200 < 0.4
    assert all(" followed by " in c for c, op in run(0) if op == "concat")


# ---- dataset ------------------------------------------------------------------------------
def write(path: Path, x: np.ndarray, sr: int = SR) -> ClipRecord:
    sf.write(path, x, sr, subtype="FLOAT" if path.suffix == ".wav" else None)
    info = sf.info(str(path))
    return ClipRecord(str(path), info.duration, sr, info.channels, [f"caption {path.stem}"])


@pytest.fixture
def records(tmp_path: Path) -> list[ClipRecord]:
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    tone22 = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 22050) / 22050)
    quiet_then_loud = np.concatenate([np.zeros(5 * SR), 0.2 * rng.standard_normal(SR)])
    recs = [
        write(tmp_path / "tone.flac", tone),
        write(tmp_path / "stereo.wav", np.stack([tone22, -tone22 * 0.5], axis=1), 22050),
        write(tmp_path / "short.wav", 0.5 * rng.standard_normal(SR // 2)),
        write(tmp_path / "sparse.wav", quiet_then_loud),
        write(tmp_path / "silent.wav", np.zeros(SR)),
    ]
    recs[0].captions = ["first caption", "second caption", "third caption"]
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 20)
    recs.append(ClipRecord(str(tmp_path / "corrupt.wav"), 1.0, SR, 1, ["broken"]))
    return recs


def test_items_have_the_target_length_and_peak(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records, split=None, duration=1.0, seed=1)
    for i in range(5):
        item = ds[i]
        w = item["waveform"]
        assert w.shape == (SR,) and w.dtype == torch.float32
        peak = float(w.abs().max())
        assert peak == pytest.approx(0.5, abs=1e-4) or (i == 4 and peak == 0.0)
        assert abs(float(w.mean())) < 0.05 or i == 2  # centred (the short clip is padded)
    assert torch.all(ds[2]["waveform"][SR // 2 :] == ds[2]["waveform"][-1])  # padded at the end


def test_stereo_takes_the_first_channel_and_resamples(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records[1:2], split=None, duration=1.0, crop="start", normalize=False)
    w = ds[0]["waveform"]
    spec = np.abs(np.fft.rfft(w.numpy()))
    assert np.argmax(spec) == 440  # 1 s at 16 kHz: bin = Hz
    assert float(w.abs().max()) == pytest.approx(0.3, rel=0.02)  # first channel, not the mean


def test_random_crops_are_seeded_by_seed_epoch_index(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records, split=None, duration=0.5, seed=3)
    a = [ds[0]["offset"] for _ in range(2)]
    assert a[0] == a[1]
    ds.set_epoch(1)
    offsets = {ManifestDataset(records, split=None, duration=0.5, seed=3)[0]["offset"], a[0]}
    offsets |= {ds[0]["offset"], ds[(2, 0)]["offset"], ds[(3, 0)]["offset"]}
    assert len(offsets) >= 3
    fixed = ManifestDataset(records, split=None, duration=0.5, crop="center")
    assert fixed[0]["offset"] == pytest.approx(1.25) and fixed[(7, 0)]["offset"] == pytest.approx(
        1.25
    )


def test_silent_crops_are_redrawn(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records[3:4], split=None, duration=0.5, retries=30, seed=0)
    levels = [level_db(ds[(e, 0)]["waveform"]) for e in range(10)]
    assert all(lv > -60 for lv in levels)  # 5 of the 6 s are digital silence
    lazy = ManifestDataset(records[3:4], split=None, duration=0.5, retries=0, seed=0)
    assert any(lazy[(e, 0)]["waveform"].abs().max() == 0 for e in range(10))


def test_captions_are_sampled(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records[:1], split=None, duration=0.2, seed=0)
    seen = {ds[(e, 0)]["caption"] for e in range(30)}
    assert seen == {"first caption", "second caption", "third caption"}
    first = ManifestDataset(records[:1], split=None, duration=0.2, caption="first")
    assert {first[(e, 0)]["caption"] for e in range(5)} == {"first caption"}


def test_corrupt_clip_is_skipped_and_counted(records: list[ClipRecord]) -> None:
    ds = ManifestDataset(records, split=None, duration=0.5)
    item = ds[5]
    assert item["skipped"] == 1 and item["index"] != 5 and item["caption"] != "broken"
    assert ds.corrupt == {records[5].path}
    only_bad = ManifestDataset(records[5:], split=None, duration=0.5, max_skips=3)
    with pytest.raises(ValueError, match="unreadable clips in a row"):
        only_bad[0]


def test_augmented_dataset_and_workers_agree(records: list[ClipRecord]) -> None:
    aug = Augmenter(p_mix=0.5, p_concat=0.5)
    ds = ManifestDataset(records, split=None, duration=0.5, augment=aug, seed=9)
    ops = [ds[(e, i)]["augment"] for e in range(4) for i in range(5)]
    assert set(ops) <= {"mix", "concat"} and len(set(ops)) == 2
    sampler = EpochSampler(len(ds), shuffle=True, seed=0)
    sampler.set_epoch(2)
    serial = list(DataLoader(ds, batch_size=3, sampler=sampler, collate_fn=collate))
    parallel = list(
        DataLoader(ds, batch_size=3, sampler=sampler, collate_fn=collate, num_workers=2)
    )
    for s, p in zip(serial, parallel, strict=True):
        assert torch.equal(s["waveform"], p["waveform"]) and s["caption"] == p["caption"]
    assert sum(b["skipped"] for b in serial) >= 1  # the corrupt clip, met in some batch
