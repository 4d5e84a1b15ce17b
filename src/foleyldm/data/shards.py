"""WebDataset tar shards: written with the standard library, read with or without webdataset.

A shard is a plain tar whose members are grouped by key: ``000000042.flac`` (the clip's
original bytes, untouched) and ``000000042.json`` (its manifest record). That is the
WebDataset layout, so ``webdataset.WebDataset("out/shard-{000000..000009}.tar")`` reads
them; `iter_shards` reads them without it. Members get fixed owners and times, so writing
the same manifest twice gives byte-identical shards.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import IterableDataset, get_worker_info

from foleyldm.audio.io import AudioError, normalize_waveform, pad_or_trim, resample
from foleyldm.data.manifest import ClipRecord, Skipped, read_manifest
from foleyldm.fileutil import atomic_open

Sample = dict[str, Any]  # "__key__": str, then extension -> bytes


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_shards(
    manifest: str | os.PathLike[str] | Sequence[ClipRecord],
    out_dir: str | os.PathLike[str],
    shard_size: int = 1000,
    prefix: str = "shard",
) -> tuple[list[Path], list[Skipped]]:
    """Pack the clips of a manifest into tar shards of ``shard_size`` clips each.

    Also writes ``out_dir/index.json`` (shard names, counts, brace pattern). Clips that
    cannot be read are left out and returned with the reason.

    Returns:
        (shard paths, skipped clips).
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    records = read_manifest(manifest) if isinstance(manifest, str | os.PathLike) else manifest
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    counts: list[int] = []
    skipped: list[Skipped] = []
    batch: list[tuple[str, str, bytes, bytes]] = []

    def flush() -> None:
        path = out / f"{prefix}-{len(shards):06d}.tar"
        with (
            atomic_open(path) as fh,
            tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar,
        ):
            for key, ext, audio, meta in batch:
                _add(tar, f"{key}.{ext}", audio)
                _add(tar, f"{key}.json", meta)
        shards.append(path)
        counts.append(len(batch))
        batch.clear()

    for i, rec in enumerate(records):
        try:
            audio = Path(rec.path).read_bytes()
        except OSError as err:
            skipped.append(Skipped(rec.path, f"unreadable ({err.strerror or err})"))
            continue
        ext = Path(rec.path).suffix.lower().lstrip(".") or "audio"
        meta = json.dumps(asdict(rec), ensure_ascii=False).encode()
        batch.append((f"{i:09d}", ext, audio, meta))
        if len(batch) == shard_size:
            flush()
    if batch:
        flush()
    index = {
        "shards": [{"name": p.name, "clips": n} for p, n in zip(shards, counts, strict=True)],
        "clips": sum(counts),
        "pattern": f"{prefix}-{{000000..{len(shards) - 1:06d}}}.tar" if shards else "",
    }
    with atomic_open(out / "index.json") as fh:
        fh.write((json.dumps(index, indent=2) + "\n").encode())
    return shards, skipped


def iter_shards(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Sample]:
    """Samples of WebDataset shards, without webdataset: ``{"__key__", "__url__", ext:
    bytes}``, members grouped by the part of their name before the first dot."""
    for path in paths:
        current: Sample | None = None
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                base = member.name.rsplit("/", 1)[-1]
                stem, _, ext = base.partition(".")
                key = member.name[: len(member.name) - len(base)] + stem
                if current is None or current["__key__"] != key:
                    if current is not None:
                        yield current
                    current = {"__key__": key, "__url__": os.fspath(path)}
                fh = tar.extractfile(member)
                current[ext] = fh.read() if fh is not None else b""
        if current is not None:
            yield current


def shard_paths(out_dir: str | os.PathLike[str]) -> list[Path]:
    """The shards listed in ``out_dir/index.json``, in order."""
    index = json.loads((Path(out_dir) / "index.json").read_text())
    return [Path(out_dir) / s["name"] for s in index["shards"]]


def decode_sample(sample: Sample) -> tuple[np.ndarray, int, ClipRecord]:
    """(audio [N, C] float32, sample rate, record) of one shard sample."""
    record = ClipRecord.from_dict(json.loads(sample["json"]))
    exts = [k for k in sample if not k.startswith("__") and k != "json"]
    if len(exts) != 1:
        raise AudioError(f"{sample.get('__key__')}: expected one audio member, got {exts}")
    data, sr = sf.read(io.BytesIO(sample[exts[0]]), dtype="float32", always_2d=True)
    return data, int(sr), record


class ShardDataset(IterableDataset[dict[str, Any]]):
    """Stream fixed-length clips from shards: the shards are split across DataLoader
    workers (and across ``world_size`` processes by ``rank``), shuffled per epoch from
    (seed, epoch), and each clip is cropped (random or from the start), put at
    ``sample_rate``, and normalised as AudioLDM does."""

    def __init__(
        self,
        shards: Sequence[str | os.PathLike[str]],
        duration: float = 10.24,
        sample_rate: int = 16000,
        crop: str = "random",
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.shards = [os.fspath(s) for s in shards]
        self.duration, self.sample_rate, self.crop = duration, sample_rate, crop
        self.seed, self.rank, self.world_size, self.epoch = seed, rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        order = list(self.shards)
        if self.crop == "random":
            perm = np.random.default_rng([self.seed, self.epoch]).permutation(len(order))
            order = [order[i] for i in perm]
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        mine = order[self.rank * workers + worker :: self.world_size * workers]
        n = round(self.duration * self.sample_rate)
        for sample in iter_shards(mine):
            data, sr, rec = decode_sample(sample)
            rng = np.random.default_rng([self.seed, self.epoch, int(sample["__key__"][-9:])])
            want = min(data.shape[0], int(np.ceil(self.duration * sr)))
            start = int(rng.integers(0, data.shape[0] - want + 1)) if self.crop == "random" else 0
            wav = resample(
                torch.from_numpy(np.ascontiguousarray(data[start : start + want, 0])),
                sr,
                self.sample_rate,
            )
            caption = rec.captions[int(rng.integers(len(rec.captions)))] if rec.captions else ""
            yield {
                "waveform": normalize_waveform(pad_or_trim(wav, n)).float(),
                "caption": caption,
                "key": sample["__key__"],
            }
