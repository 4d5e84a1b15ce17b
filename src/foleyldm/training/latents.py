"""Cached encoder outputs for the LDM stage: each clip's VAE posterior and CLAP audio embedding.

The LDM stage's VAE and CLAP are frozen, so encoding every batch again (≈70 % of a CPU step
at the foley-small sizes: 1.6 s of 2.3 s) repeats the same work each epoch. With
``ldm.cache_latents`` the stage encodes each training clip once, whole (zero-padded to at
least one training segment, at most ``ldm.cache_max_seconds``), stores the posterior mean
and standard deviation [C, T', F'] and the CLAP audio embedding [D] in an `EncoderCache`,
and then draws random crops in latent space (whole latent frames) and a fresh posterior
sample per step.

What changes against the uncached path, and why it is acceptable:
- a crop of the whole clip's latent is not bit-equal to the latent of the cropped mel (the
  VAE's receptive field sees past the crop edge); the difference is at the edges only;
- the AudioLDM peak normalisation applies to the whole clip, not per crop;
- the CLAP audio condition is the whole clip's embedding, not the crop's;
- waveform mixing augmentation (``data.mix_probability``) is not applied: a mix of two clips
  is not a mix of their latents.

The cache key is the clip's bytes and the preprocessing; the fingerprint covers the VAE and
CLAP weights and the mel settings, so a changed encoder never reads old entries.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from foleyldm.audio.io import AudioError, normalize_waveform
from foleyldm.audio.mel import MelConfig, mel_spectrogram
from foleyldm.data.cache import EncoderCache, clip_key, fingerprint_module
from foleyldm.data.datasets import read_segment
from foleyldm.data.manifest import ClipRecord

log = logging.getLogger(__name__)


@dataclass
class ClipLatents:
    """One clip's cached encodings (float16 in memory)."""

    mean: torch.Tensor  # [C, T', F'] posterior mean (unscaled)
    std: torch.Tensor  # [C, T', F'] posterior standard deviation
    clap: torch.Tensor  # [D] CLAP audio embedding


def cache_fingerprint(vae: torch.nn.Module, clap: torch.nn.Module, mel: MelConfig) -> str:
    h = hashlib.sha256()
    for part in (fingerprint_module(vae), fingerprint_module(clap), repr(mel)):
        h.update(part.encode())
    return h.hexdigest()


def clip_seconds(record: ClipRecord, min_seconds: float, max_seconds: float) -> float:
    """Seconds encoded for a clip: its length, at least one segment, at most the cap."""
    return min(max(record.duration, min_seconds), max_seconds)


class LatentEncoder:
    """Encodes whole clips with a frozen VAE and CLAP, through an `EncoderCache`.

    Args:
        vae, clap: the frozen encoders (on ``device``).
        mel: the codec's mel front end.
        sample_rate: audio rate of the models.
        frame_multiple: mel frames are cut to a multiple of this (VAE x UNet downsampling).
        min_seconds, max_seconds: clips are zero-padded to ``min_seconds`` and cut at
            ``max_seconds`` (from the start).
        cache: where encodings live between runs.
        autocast: the trainer's autocast context (mixed precision).
    """

    def __init__(
        self,
        vae: Any,
        clap: Any,
        mel: MelConfig,
        sample_rate: int,
        frame_multiple: int,
        min_seconds: float,
        max_seconds: float,
        cache: EncoderCache,
        autocast: Callable[[], Any],
    ) -> None:
        self.vae, self.clap, self.mel = vae, clap, mel
        self.sample_rate, self.frame_multiple = sample_rate, frame_multiple
        self.min_seconds, self.max_seconds = min_seconds, max_seconds
        self.cache, self.autocast = cache, autocast
        self._keys: dict[str, str] = {}

    def key(self, record: ClipRecord) -> str:
        """Cache key of a clip; hashed once per encoder (fill, put and load all need it)."""
        found = self._keys.get(record.path)
        if found is None:
            seconds = clip_seconds(record, self.min_seconds, self.max_seconds)
            found = clip_key(record.path, sample_rate=self.sample_rate, seconds=seconds, v=1)
            self._keys[record.path] = found
        return found

    @torch.no_grad()
    def encode(self, wavs: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Equal-length normalised waveforms [B, N] -> per clip {mean, std, clap}."""
        device = self.clap.device
        wavs = wavs.to(device)
        mel = mel_spectrogram(wavs, self.mel)
        usable = mel.shape[1] - mel.shape[1] % self.frame_multiple
        with self.autocast():
            dist = self.vae.encode(mel[:, None, :usable]).latent_dist
            emb = self.clap.encode_audio(wavs, self.sample_rate)
        return [
            {"mean": m.half().cpu(), "std": s.half().cpu(), "clap": e.float().cpu()}
            for m, s, e in zip(dist.mean.float(), dist.std.float(), emb.float(), strict=True)
        ]

    def load_wav(self, record: ClipRecord) -> torch.Tensor:
        seconds = clip_seconds(record, self.min_seconds, self.max_seconds)
        wav, _ = read_segment(record.path, seconds, self.sample_rate, None, crop="start")
        return normalize_waveform(wav).float()

    def fill(self, records: Sequence[ClipRecord], batch_size: int = 16) -> tuple[int, list[str]]:
        """Encode the clips not cached yet (batched by length). Returns (encoded, unreadable)."""
        todo: dict[float, list[ClipRecord]] = {}
        for r in records:
            if self.key(r) not in self.cache:
                todo.setdefault(clip_seconds(r, self.min_seconds, self.max_seconds), []).append(r)
        total = sum(len(v) for v in todo.values())
        done, bad = 0, []
        from tqdm import tqdm

        bar = tqdm(total=total, desc="ldm: caching latents", unit="clip", disable=total == 0)
        for group in todo.values():
            for i in range(0, len(group), batch_size):
                chunk, wavs = [], []
                for r in group[i : i + batch_size]:
                    try:
                        wavs.append(self.load_wav(r))
                        chunk.append(r)
                    except AudioError:
                        bad.append(r.path)
                if chunk:
                    for r, out in zip(chunk, self.encode(torch.stack(wavs)), strict=True):
                        self.cache.put(self.key(r), out)
                    done += len(chunk)
                bar.update(len(group[i : i + batch_size]))
        bar.close()
        return done, bad

    def load(self, records: Sequence[ClipRecord]) -> tuple[list[ClipRecord], list[ClipLatents]]:
        """The cached encodings of the records that have one (unreadable clips are left out)."""
        kept, entries = [], []
        for r in records:
            found = self.cache.get(self.key(r))
            if found is None:
                continue
            kept.append(r)
            entries.append(ClipLatents(found["mean"], found["std"], found["clap"]))
        return kept, entries


class LatentDataset(Dataset[dict[str, Any]]):
    """Random latent crops of cached clips; items keyed ``(epoch, index)`` like
    `ManifestDataset` (each item's draws come from (seed, epoch, index)).

    Args:
        records, entries: the clips and their cached encodings.
        frames: latent frames per training item.
        seed: base of every item's random draws.
        content_frames: per clip, how many leading latent frames hold the clip itself (the
            rest is the encoding of the zero padding); None: all of them.
        loop_probability: chance that a clip shorter than ``frames`` is looped instead of
            padded: its content repeated, each repeat followed by a random gap of 0 to
            ``loop_gap_frames`` frames of the clip's own padding latent, starting at a random
            phase.
        loop_gap_frames: longest gap between repeats.
    """

    def __init__(
        self,
        records: Sequence[ClipRecord],
        entries: Sequence[ClipLatents],
        frames: int,
        seed: int,
        content_frames: Sequence[int] | None = None,
        loop_probability: float = 0.0,
        loop_gap_frames: int = 0,
    ) -> None:
        if not entries:
            raise ValueError("no cached clips to train on")
        short = [r.path for r, e in zip(records, entries, strict=True) if e.mean.shape[1] < frames]
        if short:
            raise ValueError(f"{len(short)} cached latents shorter than {frames} frames")
        self.records, self.entries = list(records), list(entries)
        self.frames, self.seed = frames, seed
        if content_frames is None:
            content_frames = [e.mean.shape[1] for e in entries]
        self.content = [
            max(1, min(int(n), e.mean.shape[1]))
            for n, e in zip(content_frames, entries, strict=True)
        ]
        self.loop_probability, self.loop_gap_frames = loop_probability, loop_gap_frames
        self.corrupt: set[str] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def _looped(self, e: ClipLatents, n: int, rng: np.random.Generator) -> torch.Tensor:
        """Frame indices [frames] of ``e`` that loop its ``n`` content frames."""
        total = e.mean.shape[1]
        pieces: list[torch.Tensor] = []
        length = 0
        while not pieces or length < len(pieces[0]) + self.frames:  # any phase fits
            gap = int(rng.integers(0, min(self.loop_gap_frames, total - n) + 1))
            piece = torch.arange(n + gap)  # the content, then `gap` frames of padding latent
            pieces.append(piece)
            length += len(piece)
        order = torch.cat(pieces)
        phase = int(rng.integers(0, len(pieces[0])))
        return order[phase : phase + self.frames]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        e, rec = self.entries[index], self.records[index]
        start = int(rng.integers(0, e.mean.shape[1] - self.frames + 1))
        caption = ""
        if rec.captions:
            caption = rec.captions[int(rng.integers(len(rec.captions)))]
        window: slice | torch.Tensor = slice(start, start + self.frames)
        n = self.content[index]
        # Draw only when looping is on, so runs without it keep their exact item stream.
        looping = self.loop_probability > 0 and n < self.frames
        if looping and rng.random() < self.loop_probability:
            window = self._looped(e, n, rng)
        return {
            "z_mean": e.mean[:, window].float(),
            "z_std": e.std[:, window].float(),
            "clap_audio": e.clap.float(),
            "caption": caption,
            "index": index,
            "skipped": 0,
        }


def collate_latents(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items -> ``z_mean``/``z_std`` [B, C, L, F'], ``clap_audio`` [B, D], ``captions``,
    ``seed`` [B] (int64), ``skipped``."""
    return {
        "z_mean": torch.stack([it["z_mean"] for it in items]),
        "z_std": torch.stack([it["z_std"] for it in items]),
        "clap_audio": torch.stack([it["clap_audio"] for it in items]),
        "captions": [it["caption"] for it in items],
        "seed": torch.tensor([it.get("seed", it["index"]) for it in items], dtype=torch.int64),
        "skipped": 0,
    }


def latent_frames(seconds: float, mel: MelConfig, frame_multiple: int, compression: int) -> int:
    """Latent frames of one training segment (mel frames cut to the UNet multiple)."""
    mel_frames = math.floor(seconds * mel.sample_rate / mel.hop_length)
    return (mel_frames - mel_frames % frame_multiple) // compression
