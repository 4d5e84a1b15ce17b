"""The global batch stream: sharding over processes, resuming at a position, per-sample seeds."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import torch

from foleyldm.data.manifest import ClipRecord
from foleyldm.training.data import (
    GlobalBatchSampler,
    clip_dataset,
    collate,
    generators,
    item_seed,
    manifest_records,
    per_sample,
    repeat_rare,
    train_batches,
)

from .conftest import CORRUPT


def _take(sampler: GlobalBatchSampler, n: int) -> list[list[tuple[int, int, int]]]:
    return list(itertools.islice(iter(sampler), n))


def test_processes_split_each_global_batch_contiguously() -> None:
    one = _take(GlobalBatchSampler(10, 4, seed=3), 6)
    r0 = _take(GlobalBatchSampler(10, 4, seed=3, rank=0, world=2), 6)
    r1 = _take(GlobalBatchSampler(10, 4, seed=3, rank=1, world=2), 6)
    assert [a + b for a, b in zip(r0, r1, strict=True)] == one


def test_each_epoch_is_a_permutation_and_resume_continues_the_stream() -> None:
    stream = [x for b in _take(GlobalBatchSampler(10, 5, seed=1), 6) for x in b]
    for epoch in range(3):
        part = stream[epoch * 10 : (epoch + 1) * 10]
        assert {e for e, _, _ in part} == {epoch}
        assert sorted(i for _, i, _ in part) == list(range(10))
    assert [p[1] for p in stream[:10]] != [p[1] for p in stream[10:20]]  # reshuffled
    assert (
        _take(GlobalBatchSampler(10, 5, seed=1, start=3), 3)
        == _take(GlobalBatchSampler(10, 5, seed=1), 6)[3:]
    )
    seeds = [s for _, _, s in stream]
    assert len(set(seeds)) == len(seeds) and seeds[0] == item_seed(1, 0)


def test_per_sample_draws_do_not_depend_on_the_batch() -> None:
    seeds = torch.tensor([item_seed(0, p) for p in range(4)])
    whole = per_sample(generators(seeds), "randn", (3,))
    halves = torch.cat([per_sample(generators(s), "randn", (3,)) for s in seeds.split(2)])
    assert torch.equal(whole, halves)


def test_corrupt_clip_is_replaced_and_counted(corpus) -> None:
    records = manifest_records(str(corpus), "train")
    bad = next(i for i, r in enumerate(records) if r.path.endswith(CORRUPT))
    data = clip_dataset(records, 0.32, 16000, seed=0)
    item = data[(0, bad)]
    assert item["skipped"] == 1 and item["index"] != bad
    assert item["waveform"].shape == (round(0.32 * 16000),)
    assert any(p.endswith(CORRUPT) for p in data.corrupt)
    batch = collate([{**item, "seed": 5}])
    assert batch["skipped"] == 1 and batch["seed"].tolist() == [5]


def test_train_batches_give_this_process_its_share(corpus) -> None:
    data = clip_dataset(manifest_records(str(corpus), "train"), 0.32, 16000, seed=0)
    one = next(train_batches(data, 4, seed=0))
    two = [next(train_batches(data, 4, seed=0, rank=r, world=2)) for r in (0, 1)]
    assert torch.equal(one["wav"], torch.cat([b["wav"] for b in two]))
    assert one["captions"] == two[0]["captions"] + two[1]["captions"]
    assert one["wav"].abs().max() <= 0.5 + 1e-6  # AudioLDM peak normalisation


def _records(counts: dict[str, int]) -> list[ClipRecord]:
    return [
        ClipRecord(f"/{label}{i}.wav", 1.0, 16000, 1, labels=[label] if label else [])
        for label, n in counts.items()
        for i in range(n)
    ]


def test_rare_categories_are_repeated_by_their_repeat_factor() -> None:
    records = _records({"speech": 90, "dog": 10})
    assert repeat_rare(records, 0.0) == records
    # dog: f = 0.1 -> sqrt(0.4 / 0.1) = 2 copies each; speech: f = 0.9 > 0.4 -> one copy
    out = repeat_rare(records, 0.4)
    assert len(out) == 90 + 2 * 10
    assert Counter(r.path for r in out)["/dog3.wav"] == 2
    assert Counter(r.path for r in out)["/speech3.wav"] == 1
    # unlabelled clips form one category; a category at the threshold keeps one copy
    out = repeat_rare(_records({"a": 50, "": 50}), 0.5)
    assert len(out) == 100


def test_ldm_stage_repeats_rare_clips_but_encodes_each_once(corpus, tmp_path, monkeypatch) -> None:
    from foleyldm.training.latents import LatentEncoder
    from foleyldm.training.ldm import LDMTrainer

    from .conftest import tiny_config

    encoded: list[int] = []
    encode = LatentEncoder.encode
    monkeypatch.setattr(
        LatentEncoder, "encode", lambda self, w: encoded.append(len(w)) or encode(self, w)
    )
    base = ("ldm.cache_latents=true", f"ldm.cache_dir={tmp_path / 'cache'}")
    cfg = tiny_config(corpus, *base, "ldm.repeat_threshold=0.5")
    trainer = LDMTrainer(cfg, tmp_path / "b")
    repeated = trainer.train_dataset()
    train = trainer.records("train")  # 30 readable clips of six classes + the corrupt one
    per_class = Counter(r.category for r in train)
    copies = {c: max(1, round(math.sqrt(0.5 * len(train) / n))) for c, n in per_class.items()}
    records = repeated.records  # type: ignore[attr-defined]
    assert Counter(r.path for r in records) == {
        r.path: copies[r.category] for r in train if not r.path.endswith(CORRUPT)
    }
    assert max(copies.values()) > 1
    assert sum(encoded) == 30  # each readable clip encoded once
    # a repeated clip shares its cached entry
    twice = next(r for r in records if copies[r.category] > 1)
    entries = repeated.entries  # type: ignore[attr-defined]
    same = [e for r, e in zip(records, entries, strict=True) if r.path == twice.path]
    assert len(same) == copies[twice.category] and same[0] is same[1]
