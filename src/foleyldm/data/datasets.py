"""Torch datasets over manifests: crops, AudioLDM normalisation, captions, augmentation.

Randomness is worker-safe: every sample draws from ``numpy.random.default_rng((seed,
epoch, index))``, so a sample is the same whichever worker (or how many) loads it, and the
global RNGs are never touched. With persistent workers, pass the epoch inside the index
(`EpochSampler` yields ``(epoch, index)`` pairs) instead of calling `set_epoch`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from foleyldm.audio.io import AudioError, normalize_waveform, pad_or_trim, resample
from foleyldm.data.augment import Augmenter
from foleyldm.data.manifest import ClipRecord, read_manifest

CropMode = Literal["random", "start", "center"]
_SKIP_STRIDE = 7919  # a prime: successive replacements of a corrupt clip spread out


def read_segment(
    path: str | os.PathLike[str],
    seconds: float,
    sample_rate: int,
    rng: np.random.Generator | None,
    crop: CropMode = "random",
    channel: Literal["first", "mean"] = "first",
) -> tuple[torch.Tensor, float]:
    """Read ``seconds`` of a file (random, first or middle part) at ``sample_rate``.

    Only the needed frames are decoded. Returns ([N] float32 zero-padded at the end to
    N = round(seconds·sample_rate), offset in seconds).

    Raises:
        AudioError: unreadable, empty or non-finite audio.
    """
    name = os.fspath(path)
    try:
        with sf.SoundFile(name) as f:
            sr, total = int(f.samplerate), int(f.frames)
            if total <= 0:
                raise AudioError(f"{name}: empty audio (0 samples)")
            want = min(total, math.ceil(seconds * sr))
            room = total - want
            if crop == "random" and room > 0:
                assert rng is not None, "random crops need a generator"
                start = int(rng.integers(0, room + 1))
            else:
                start = room // 2 if crop == "center" else 0
            f.seek(start)
            data = f.read(frames=want, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise AudioError(f"{name}: not readable audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: empty audio (0 samples)")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    mono = data[:, 0] if channel == "first" else data.mean(axis=1)
    wav = resample(torch.from_numpy(np.ascontiguousarray(mono)), sr, sample_rate)
    return pad_or_trim(wav, round(seconds * sample_rate)), start / sr


def level_db(wav: torch.Tensor) -> float:
    """RMS level in dB full scale (−inf for silence)."""
    rms = float(wav.double().pow(2).mean().sqrt())
    return 20 * math.log10(rms) if rms > 0 else -math.inf


class ManifestDataset(Dataset[dict[str, Any]]):
    """Fixed-length clips from a manifest.

    Each item: ``{"waveform": [N] float32, "caption": str, "index": int, "path": str,
    "offset": float (s), "augment": "" | "mix" | "concat", "skipped": int}`` where
    ``skipped`` counts corrupt clips passed over to produce this one (sum it over a loader to
    count them across workers; ``self.corrupt`` holds this process's paths).

    Args:
        manifest: a JSONL manifest path or records.
        split: keep only this split (``None``: all).
        duration: seconds per item (10.24 s = AudioLDM's 1024 frames).
        sample_rate: output rate.
        crop: "random" (training), "start" or "center" (evaluation, deterministic).
        normalize: AudioLDM's peak-0.5 normalisation (REFERENCE.md §1), after augmentation.
        channel: "first" (the reference) or "mean" of the channels.
        silence_db: a random crop quieter than this (RMS dBFS) is redrawn ...
        retries: ... up to this many times; a clip silent everywhere is then kept.
        caption: "random" picks one of several captions per item, "first" the first.
        augment: on-the-fly mixing/concatenation with another random clip, or ``None``.
        seed: base seed; the item's generator is seeded with (seed, epoch, index).
        max_skips: give up (AudioError) after this many corrupt clips in a row.
    """

    def __init__(
        self,
        manifest: str | os.PathLike[str] | Sequence[ClipRecord],
        *,
        split: str | None = "train",
        duration: float = 10.24,
        sample_rate: int = 16000,
        crop: CropMode = "random",
        normalize: bool = True,
        channel: Literal["first", "mean"] = "first",
        silence_db: float = -60.0,
        retries: int = 4,
        caption: Literal["random", "first"] = "random",
        augment: Augmenter | None = None,
        seed: int = 0,
        max_skips: int = 20,
    ) -> None:
        records: Sequence[ClipRecord] = (
            read_manifest(manifest) if isinstance(manifest, str | os.PathLike) else manifest
        )
        self.records = [r for r in records if split is None or r.split == split]
        if not self.records:
            raise ValueError(f"no clips in the manifest for split {split!r}")
        if crop not in ("random", "start", "center"):
            raise ValueError(f"crop must be random, start or center, got {crop!r}")
        self.duration, self.sample_rate, self.crop = duration, sample_rate, crop
        self.normalize, self.channel = normalize, channel
        self.silence_db, self.retries = silence_db, retries
        self.caption_mode, self.augment = caption, augment
        self.seed, self.epoch, self.max_skips = seed, 0, max_skips
        self.corrupt: set[str] = set()

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """New random crops/captions/augmentations for a new epoch (same for every worker)."""
        self.epoch = epoch

    def generator(self, index: int, epoch: int | None = None) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, index])

    def load(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, str, float]:
        """One clip's crop (redrawn past silent crops) and a caption; raises AudioError."""
        rec = self.records[index]
        wav, offset = read_segment(
            rec.path, self.duration, self.sample_rate, rng, self.crop, self.channel
        )
        tries = 0
        while self.crop == "random" and level_db(wav) < self.silence_db and tries < self.retries:
            wav, offset = read_segment(
                rec.path, self.duration, self.sample_rate, rng, "random", self.channel
            )
            tries += 1
        return wav, self._caption(rec, rng), offset

    def _caption(self, rec: ClipRecord, rng: np.random.Generator) -> str:
        if not rec.captions:
            return ""
        if self.caption_mode == "first" or len(rec.captions) == 1:
            return rec.captions[0]
        return rec.captions[int(rng.integers(len(rec.captions)))]

    def _load_skipping(
        self, index: int, rng: np.random.Generator
    ) -> tuple[int, torch.Tensor, str, float, int]:
        for skipped in range(self.max_skips + 1):
            i = (index + skipped * _SKIP_STRIDE) % len(self.records)
            try:
                return (i, *self.load(i, rng), skipped)
            except AudioError:
                self.corrupt.add(self.records[i].path)
        raise AudioError(
            f"{self.max_skips + 1} unreadable clips in a row (last: {self.records[i].path})"
        )

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (None, key)
        rng = self.generator(index, epoch)
        i, wav, caption, offset, skipped = self._load_skipping(index, rng)
        op = ""
        if self.augment is not None:
            extra = {"skipped": 0}

            def other() -> tuple[torch.Tensor, str]:
                j = int(rng.integers(len(self.records)))
                _, w, c, _, s = self._load_skipping(j, rng)
                extra["skipped"] += s
                return w, c

            wav, caption, op = self.augment((wav, caption), other, rng)
            skipped += extra["skipped"]
        if self.normalize:
            wav = normalize_waveform(wav)
        return {
            "waveform": wav.float(),
            "caption": caption,
            "index": i,
            "path": self.records[i].path,
            "offset": offset,
            "augment": op,
            "skipped": skipped,
        }


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` (shuffled per epoch from (seed, epoch) when ``shuffle``),
    so datasets see the epoch even in persistent workers. Call `set_epoch` each epoch."""

    def __init__(self, length: int, shuffle: bool = True, seed: int = 0) -> None:
        self.length, self.shuffle, self.seed, self.epoch = length, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.arange(self.length)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        return iter([(self.epoch, int(i)) for i in order])


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack waveforms to [B, N]; other fields become lists (``skipped`` a summed int)."""
    out: dict[str, Any] = {k: [it[k] for it in items] for k in items[0]}
    out["waveform"] = torch.stack(out["waveform"])
    out["skipped"] = int(sum(out["skipped"]))
    return out
