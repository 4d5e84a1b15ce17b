"""WebDataset shards (round trip, with and without webdataset) and encoder caches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from foleyldm.data.cache import (
    EncoderCache,
    clip_key,
    fingerprint_files,
    fingerprint_module,
    text_key,
)
from foleyldm.data.manifest import ClipRecord, read_manifest, write_manifest
from foleyldm.data.shards import (
    ShardDataset,
    decode_sample,
    iter_shards,
    shard_paths,
    write_shards,
)
from tests.data.cli_util import run_data

SR = 16000


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A manifest of 7 clips of three formats (one stereo) plus one missing file."""
    rng = np.random.default_rng(0)
    recs = []
    for i in range(7):
        ext = (".flac", ".wav", ".ogg")[i % 3]
        path = tmp_path / "clips" / f"clip.{i}{ext}"  # a dot in the name: keys must not care
        path.parent.mkdir(exist_ok=True)
        x = 0.2 * rng.standard_normal((SR // 4 + 100 * i, 2 if i == 4 else 1))
        sf.write(path, x, SR)
        recs.append(
            ClipRecord(str(path), x.shape[0] / SR, SR, x.shape[1], [f"sound {i}"], [f"c{i}"])
        )
    recs.append(ClipRecord(str(tmp_path / "clips" / "gone.wav"), 1.0, SR, 1, ["missing"]))
    return write_manifest(tmp_path / "manifest.jsonl", recs)


def test_shard_round_trip_is_identical(corpus: Path, tmp_path: Path) -> None:
    shards, skipped = write_shards(corpus, tmp_path / "shards", shard_size=3)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert len(skipped) == 1 and "gone.wav" in skipped[0].path
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    assert index["clips"] == 7 and index["pattern"] == "shard-{000000..000002}.tar"
    assert shard_paths(tmp_path / "shards") == shards
    records = read_manifest(corpus)[:7]
    samples = list(iter_shards(shards))
    assert len(samples) == 7
    for rec, sample in zip(records, samples, strict=True):
        ext = Path(rec.path).suffix.lstrip(".")
        assert set(sample) == {"__key__", "__url__", ext, "json"}
        assert sample[ext] == Path(rec.path).read_bytes()  # the exact bytes
        data, sr, back = decode_sample(sample)
        assert back == rec and sr == SR
        assert np.array_equal(data, sf.read(rec.path, dtype="float32", always_2d=True)[0])
    # deterministic: writing again gives byte-identical shards
    again, _ = write_shards(corpus, tmp_path / "again", shard_size=3)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in shards]


def test_webdataset_reads_our_shards(corpus: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    shards, _ = write_shards(corpus, tmp_path / "shards", shard_size=3)
    pattern = str(
        tmp_path
        / "shards"
        / json.loads((tmp_path / "shards" / "index.json").read_text())["pattern"]
    )
    theirs = list(wds.WebDataset(pattern, shardshuffle=False))
    ours = list(iter_shards(shards))
    assert [s["__key__"] for s in theirs] == [s["__key__"] for s in ours]
    for a, b in zip(theirs, ours, strict=True):
        assert {k: v for k, v in a.items() if not k.startswith("__")} == {
            k: v for k, v in b.items() if not k.startswith("__")
        }


def test_shard_dataset_streams_fixed_length_clips(corpus: Path, tmp_path: Path) -> None:
    shards, _ = write_shards(corpus, tmp_path / "shards", shard_size=2)
    ds = ShardDataset(shards, duration=0.2, seed=1)
    items = list(ds)
    assert len(items) == 7 and all(it["waveform"].shape == (int(0.2 * SR),) for it in items)
    assert all(float(it["waveform"].abs().max()) == pytest.approx(0.5, abs=1e-4) for it in items)
    assert [it["caption"] for it in ds] == [it["caption"] for it in items]  # same epoch, same
    halves = [
        list(ShardDataset(shards, duration=0.2, seed=1, rank=r, world_size=2)) for r in (0, 1)
    ]
    keys = sorted(it["key"] for half in halves for it in half)
    assert keys == sorted(it["key"] for it in items) and all(halves)


def test_cli_shard(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert run_data(["shard", str(corpus), str(out), "--shard-size", "4"]) == 0
    cap = capsys.readouterr()
    assert "7 clips in 2 shards" in cap.out and "gone.wav" in cap.err
    with pytest.raises(ValueError, match="shard_size"):
        write_shards(corpus, out, shard_size=0)


# ---- caches -------------------------------------------------------------------------------
def test_cache_hits_and_invalidates_when_the_encoder_changes(tmp_path: Path, corpus: Path) -> None:
    torch.manual_seed(0)
    encoder = torch.nn.Linear(4, 3)
    calls = []

    def encode(batch: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        calls.append(len(batch))
        with torch.no_grad():
            return [{"latent": encoder(x)} for x in batch]

    clips = read_manifest(corpus)[:5]
    items = [(clip_key(r.path, sample_rate=SR, offset=0.0), torch.randn(4)) for r in clips]
    cache = EncoderCache(tmp_path / "cache", "vae-latents", fingerprint_module(encoder))
    assert cache.fill(items, encode, batch_size=2) == 5 and calls == [2, 2, 1]
    assert cache.fill(items, encode) == 0 and calls == [2, 2, 1]  # all cached
    got = cache.get(items[0][0])
    assert got is not None and torch.equal(got["latent"], encode([items[0][1]])[0]["latent"])
    assert cache.hits == 1

    with torch.no_grad():
        encoder.weight[0, 0] += 1e-3  # a fine-tuned encoder: a new fingerprint
    new = EncoderCache(tmp_path / "cache", "vae-latents", fingerprint_module(encoder))
    assert new.fingerprint != cache.fingerprint
    assert new.get(items[0][0]) is None and new.misses == 1
    assert new.fill(items, encode) == 5
    assert len(new.stale()) == 1 and new.prune() == 1 and new.stale() == []
    assert cache.get(items[0][0]) is None  # the old version's entries are gone
    assert new.get(items[0][0]) is not None


def test_keys_follow_content_and_preprocessing(tmp_path: Path) -> None:
    a = tmp_path / "a.wav"
    sf.write(a, np.zeros(100), SR)
    k1 = clip_key(a, sample_rate=SR, offset=0.0)
    assert k1 == clip_key(a, offset=0.0, sample_rate=SR)
    assert k1 != clip_key(a, sample_rate=SR, offset=1.0)
    sf.write(a, np.ones(100) * 0.5, SR)
    assert k1 != clip_key(a, sample_rate=SR, offset=0.0)
    assert text_key("a dog") != text_key("a dog ")
    f1, f2 = tmp_path / "w1.bin", tmp_path / "w2.bin"
    f1.write_bytes(b"weights")
    f2.write_bytes(b"weights2")
    assert fingerprint_files([f1]) != fingerprint_files([f2])
    cache = EncoderCache(tmp_path / "c", "clap-text", fingerprint_files([f1]))
    cache.put(text_key("a dog"), {"embedding": torch.ones(512)})
    corrupt = next((tmp_path / "c").rglob("*.safetensors"))
    corrupt.write_bytes(b"not safetensors")
    assert cache.get(text_key("a dog")) is None  # unreadable entries are misses
    out = cache.get_or_compute(text_key("a dog"), lambda: {"embedding": torch.zeros(512)})
    assert torch.equal(out["embedding"], torch.zeros(512))
    assert torch.equal(cache.get(text_key("a dog"))["embedding"], torch.zeros(512))  # type: ignore[index]
    with pytest.raises(ValueError, match="bad encoder name"):
        EncoderCache(tmp_path, "../x", "f")
