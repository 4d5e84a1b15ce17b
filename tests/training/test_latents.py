"""The LDM stage on cached latents: the cache holds the same posterior the uncached path
computes, it is reused (not re-encoded) by a second run, the loss still drops, and the
stage resumes bit for bit."""

from __future__ import annotations

from statistics import mean

import torch

from foleyldm.data.manifest import read_manifest
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
    # nothing was encoded again
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.rglob("*.safetensors"))} == stamps
