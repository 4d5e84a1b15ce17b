"""The LDM stage on cached latents: the cache holds the same posterior the uncached path
computes, it is reused (not re-encoded) by a second run, the loss still drops, and the
stage resumes bit for bit."""

from __future__ import annotations

import itertools
from statistics import mean

import torch

from foleyldm.data.manifest import ClipRecord, read_manifest
from foleyldm.training.config import load_config
from foleyldm.training.latents import ClipLatents, LatentDataset
from foleyldm.training.ldm import LDMTrainer
from foleyldm.training.runner import train_stage

from .conftest import CORRUPT, tiny_config

CACHED = ("ldm.cache_latents=true",)


def test_cached_posterior_equals_the_uncached_encoding(corpus, tmp_path) -> None:
    """A clip as long as one segment: the cached posterior mean/std and CLAP embedding equal
    what the uncached path computes from the same (whole-clip) crop."""
    cfg = tiny_config(corpus, *CACHED, "ldm.segment_seconds=1.28")
    trainer = LDMTrainer(cfg, tmp_path / "run")
    dataset = trainer.train_dataset()
    rec = next(r for r in read_manifest(corpus, "train") if not r.path.endswith(CORRUPT))
    index = [r.path for r in dataset.records].index(rec.path)  # type: ignore[attr-defined]
    entry = dataset.entries[index]  # type: ignore[attr-defined]

    from foleyldm.audio.mel import mel_spectrogram
    from foleyldm.data.datasets import ManifestDataset

    wav = ManifestDataset([rec], split=None, duration=1.28, crop="start")[0]["waveform"]
    mel = mel_spectrogram(wav[None], trainer.pipe.codec.mel)
    usable = mel.shape[1] - mel.shape[1] % trainer.frame_multiple
    with torch.no_grad():
        dist = trainer.vae.encode(mel[:, None, :usable]).latent_dist
        emb = trainer.clap.encode_audio(wav[None], trainer.sample_rate)[0]
    assert entry.mean.shape == dist.mean[0].shape
    # float16 storage: half-precision rounding of the same numbers
    torch.testing.assert_close(entry.mean.float(), dist.mean[0], rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(entry.std.float(), dist.std[0], rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(entry.clap, emb, rtol=1e-5, atol=1e-6)
    # the corrupt clip is left out and reported, not fatal
    assert any(p.endswith(CORRUPT) for p in trainer._corrupt)
    assert not any(p.endswith(CORRUPT) for p in (r.path for r in dataset.records))  # type: ignore[attr-defined]


def test_cached_training_learns_reuses_cache_and_resumes_exactly(corpus, tmp_path) -> None:
    cache = tmp_path / "cache"
    cfg = tiny_config(corpus, *CACHED, f"ldm.cache_dir={cache}")
    result = train_stage("ldm", cfg, tmp_path / "a")
    losses = [row["loss"] for row in result.history]
    assert result.step == 12
    assert mean(losses[-4:]) < 0.85 * mean(losses[:4])
    entries = sorted(cache.rglob("*.safetensors"))
    assert len(entries) == 30  # every readable training clip, once
    stamps = {p: p.stat().st_mtime_ns for p in entries}

    # an interrupted run (stopped at step 5) resumed to 12 = the uninterrupted run
    short = tiny_config(corpus, *CACHED, f"ldm.cache_dir={cache}", "ldm.steps=5")
    train_stage("ldm", short, tmp_path / "b")
    resumed = train_stage("ldm", cfg, tmp_path / "b", resume=True)
    assert [r["loss"] for r in resumed.history][-7:] == losses[-7:]
    # the resumed run's folder keeps the config it ran with (steps 12, not 5)
    assert load_config(tmp_path / "b" / "config.yaml").ldm.steps == 12
    # nothing was encoded again
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.rglob("*.safetensors"))} == stamps


def _entry(content: int, total: int) -> ClipLatents:
    """A cached clip whose first ``content`` frames are its sound (values 1..content) and
    the rest its padding latent (zeros)."""
    mean = torch.zeros(2, total, 3)
    mean[:, :content] = torch.arange(1, content + 1, dtype=torch.float32)[None, :, None]
    return ClipLatents(mean.half(), torch.ones(2, total, 3).half(), torch.zeros(4))


def test_short_clips_are_looped_with_padding_gaps() -> None:
    frames, content, total = 16, 5, 20
    recs = [ClipRecord(f"c{i}.wav", 1.0, 16000, 1, captions=["x"]) for i in range(2)]
    entries = [_entry(content, total), _entry(total, total)]
    looped = LatentDataset(
        recs,
        entries,
        frames,
        seed=3,
        content_frames=[content, total],
        loop_probability=1.0,
        loop_gap_frames=3,
    )
    padded = LatentDataset(recs, entries, frames, seed=3, content_frames=[content, total])
    phases = set()
    for epoch in range(20):
        row = looped[(epoch, 0)]["z_mean"][0, :, 0].tolist()
        assert len(row) == frames
        # the content always appears in order 1..5 and each run of padding is at most 3 long
        assert sum(v == content for v in row) >= 2  # at least two repeats fit in 16 frames
        for a, b in itertools.pairwise(row):
            # content runs forward; after its end or inside a gap: padding or a new repeat
            assert b == a + 1 if 0 < a < content else b in (0, 1)
        zeros = "".join("0" if v == 0 else "x" for v in row)
        assert "0000" not in zeros
        phases.add(row[0])
        # a clip at least one segment long is never looped; its stream is the padded one's
        torch.testing.assert_close(looped[(epoch, 1)]["z_mean"], padded[(epoch, 1)]["z_mean"])
    assert len(phases) > 2  # random phase
    # without looping, the short clip's crop is mostly padding
    row = padded[(0, 0)]["z_mean"][0, :, 0]
    assert (row == 0).sum() >= frames - content
