"""Training data order: a deterministic global batch stream over `foleyldm.data` datasets.

Clips come from `foleyldm.data.datasets.ManifestDataset` (crops, AudioLDM normalisation,
caption sampling, mixing augmentation, corrupt clips replaced and counted). This module adds
what training needs on top:

- `GlobalBatchSampler`: an endless stream of global batches (a fresh permutation per epoch)
  from which each process takes its contiguous share, starting at any batch: the data
  position is one integer, and N processes see exactly the clips one process would;
- a seed per stream position (`item_seed`) attached to every sample, from which a stage
  draws that sample's noise, timestep and dropout (`generators`, `per_sample`). With the
  dataset's own per-(epoch, index) crop and caption draws, everything random about a
  sample is a function of (seed, position): resume needs no data-loader state, and the
  split of a batch over processes changes nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from foleyldm.data.augment import Augmenter
from foleyldm.data.datasets import ManifestDataset
from foleyldm.data.manifest import ClipRecord, read_manifest
from foleyldm.errors import FoleyError

_MASK64 = (1 << 64) - 1


class DataError(FoleyError, ValueError):
    """A manifest that cannot be used for training (no clips in a split, bad batch split)."""


def item_seed(seed: int, position: int) -> int:
    """The seed of the sample at ``position`` of the global stream (splitmix64, 63 bits)."""
    x = (seed * 0x9E3779B97F4A7C15 + position + 1) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) >> 1


def generators(seeds: torch.Tensor) -> list[torch.Generator]:
    """One CPU generator per sample seed [B] (per-sample noise, timesteps, masks)."""
    return [torch.Generator().manual_seed(int(s)) for s in seeds.tolist()]


def per_sample(
    gens: Sequence[torch.Generator], draw: str, shape: Sequence[int] = ()
) -> torch.Tensor:
    """One ``torch.rand`` (``draw="rand"``) or ``randn`` draw of ``shape`` per generator
    -> [B, *shape] (float32, CPU)."""
    fn = torch.randn if draw == "randn" else torch.rand
    return torch.stack([fn(tuple(shape), generator=g) for g in gens])


def with_text(records: Sequence[ClipRecord]) -> list[ClipRecord]:
    """Records that have a caption, labels standing in as one ("dog, bark") where none."""
    out = []
    for r in records:
        if r.captions:
            out.append(r)
        elif r.labels:
            out.append(dataclasses.replace(r, captions=[", ".join(r.labels)]))
    return out


def manifest_records(manifest: str, split: str, require_text: bool = False) -> list[ClipRecord]:
    records = read_manifest(manifest, split)
    return with_text(records) if require_text else records


def repeat_rare(records: Sequence[ClipRecord], threshold: float) -> list[ClipRecord]:
    """Repeat-factor sampling by category (LVIS, Gupta et al. 2019): a clip whose category
    (first label) makes up a fraction ``f`` of ``records`` appears ``round(max(1,
    sqrt(threshold / f)))`` times, so a rare sound is seen more often per epoch while a common
    one keeps one copy. ``threshold`` 0 returns the records unchanged; unlabelled clips count
    as one category. Deterministic rounding (LVIS rounds stochastically per epoch) keeps the
    stream a fixed list, so resume stays exact.
    """
    if threshold <= 0 or not records:
        return list(records)
    counts = collections.Counter(r.category for r in records)
    out: list[ClipRecord] = []
    for r in records:
        f = counts[r.category] / len(records)
        out.extend([r] * max(1, round(math.sqrt(threshold / f))))
    return out


def clip_dataset(
    records: Sequence[ClipRecord],
    seconds: float,
    sample_rate: int,
    seed: int,
    train: bool = True,
    augment: Augmenter | None = None,
) -> ManifestDataset:
    """Training crops (random crop and caption, augmentation) or validation crops (from the
    start, first caption)."""
    if not records:
        raise DataError("no clips to train on (empty manifest or split)")
    return ManifestDataset(
        records,
        split=None,
        duration=seconds,
        sample_rate=sample_rate,
        crop="random" if train else "start",
        caption="random" if train else "first",
        augment=augment if train else None,
        seed=seed,
    )


class ItemDataset(Protocol):
    """What the training stream reads: items keyed ``(epoch, index)`` (`ManifestDataset`,
    `foleyldm.training.latents.LatentDataset`) and the paths of unreadable clips seen."""

    corrupt: set[str]

    def __len__(self) -> int: ...

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]: ...


class Seeded(Dataset[dict[str, Any]]):
    """Items of an `ItemDataset` keyed ``(epoch, index, seed)``, ``seed`` added to them."""

    def __init__(self, inner: ItemDataset) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, Any]:
        epoch, index, seed = key
        return {**self.inner[(epoch, index)], "seed": seed}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items -> ``wav`` [B, N], ``captions`` [B], ``seed`` [B] (int64), ``skipped`` (count)."""
    return {
        "wav": torch.stack([it["waveform"] for it in items]),
        "captions": [it["caption"] for it in items],
        "seed": torch.tensor([it.get("seed", it["index"]) for it in items], dtype=torch.int64),
        "skipped": sum(int(it["skipped"]) for it in items),
    }


class GlobalBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """An endless stream of global batches; each process takes its contiguous share.

    The stream concatenates per-epoch permutations of the clips (epoch ``e`` shuffled from
    ``seed`` and ``e``). Global batch ``b`` holds stream positions
    ``[b * batch, (b + 1) * batch)``; process ``rank`` of ``world`` yields its slice of it as
    ``(epoch, clip_index, item_seed)`` triples, from batch ``start`` on.
    """

    def __init__(
        self, num_clips: int, batch: int, seed: int, rank: int = 0, world: int = 1, start: int = 0
    ) -> None:
        if batch % world:
            raise DataError(f"global batch {batch} does not split over {world} processes")
        self.num_clips, self.batch, self.seed = num_clips, batch, seed
        self.rank, self.world, self.start = rank, world, start
        self._cached: tuple[int, list[int]] = (-1, [])

    def order(self, epoch: int) -> list[int]:
        if self._cached[0] != epoch:
            g = torch.Generator().manual_seed(item_seed(self.seed, -1 - epoch))
            self._cached = (epoch, torch.randperm(self.num_clips, generator=g).tolist())
        return self._cached[1]

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        local = self.batch // self.world
        b = self.start
        while True:
            first = b * self.batch + self.rank * local
            out = []
            for pos in range(first, first + local):
                epoch, offset = divmod(pos, self.num_clips)
                out.append((epoch, self.order(epoch)[offset], item_seed(self.seed, pos)))
            yield out
            b += 1


def train_batches(
    dataset: ItemDataset,
    batch: int,
    seed: int,
    rank: int = 0,
    world: int = 1,
    start: int = 0,
    num_workers: int = 0,
    collate_fn: Callable[[list[dict[str, Any]]], dict[str, Any]] = collate,
) -> Iterator[dict[str, Any]]:
    """This process's share of global batches ``start``, ``start + 1``, ... (endless)."""
    sampler = GlobalBatchSampler(len(dataset), batch, seed, rank, world, start)
    loader = DataLoader(
        Seeded(dataset),
        batch_sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
    return iter(loader)


def fixed_batches(dataset: ManifestDataset, batch: int) -> Iterator[dict[str, Any]]:
    """The whole dataset in order, in batches (validation: fixed crops; seed = index)."""
    for first in range(0, len(dataset), batch):
        yield collate([dataset[i] for i in range(first, min(first + batch, len(dataset)))])
