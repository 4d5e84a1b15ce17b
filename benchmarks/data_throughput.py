"""Data pipeline throughput: synthesis, dataset items, shard writing and reading.

    python benchmarks/data_throughput.py [--manifest /work/corpus/manifest.jsonl]

Prints clips (or items) per second for: synthesized Foley (each kind), `ManifestDataset`
items (10.24 s random crops, with and without on-the-fly augmentation) and shard
writing/reading. Without ``--manifest`` it synthesizes a small set to read from.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from foleyldm.data.augment import Augmenter
from foleyldm.data.datasets import ManifestDataset
from foleyldm.data.manifest import read_manifest
from foleyldm.data.shards import ShardDataset, iter_shards, write_shards
from foleyldm.data.synth import KINDS, synth_clip, write_synth_set


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.1f}/s ({n} in {seconds:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--manifest", default=None, help="a manifest to read (default: synthesize one)")
    ap.add_argument("--items", type=int, default=200, help="dataset items to time")
    args = ap.parse_args()
    # one intra-op thread, as in DataLoader workers (torch sets that there); on a busy
    # machine two spinning threads per 164k-sample op cost more than they save
    torch.set_num_threads(1)

    print("synthesis (clips of 2.5–10 s at 16 kHz):")
    for kind in KINDS:
        t0 = time.perf_counter()
        audio_s = (
            sum(synth_clip(0, i, kind=kind, room_prob=0.0).waveform.shape[0] for i in range(5))
            / 16000
        )
        dt = time.perf_counter() - t0
        print(f"  {kind:8s} {rate(5, dt)}  {audio_s / dt:6.0f}× real time")

    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(args.manifest) if args.manifest else None
        if manifest is None:
            write_synth_set(Path(tmp) / "synth", 60, seed=1)
            manifest = Path(tmp) / "synth" / "manifest.jsonl"
        records = read_manifest(manifest)
        print(f"dataset over {manifest} ({len(records)} clips):")
        for name, aug in (("plain", None), ("augmented", Augmenter(p_mix=0.25, p_concat=0.1))):
            ds = ManifestDataset(records, split=None, duration=10.24, augment=aug)
            n = min(args.items, len(ds))
            t0 = time.perf_counter()
            for i in range(n):
                ds[i]
            print(f"  {name:9s} items {rate(n, time.perf_counter() - t0)}")
        sub = records[: min(1000, len(records))]
        t0 = time.perf_counter()
        shards, _ = write_shards(sub, Path(tmp) / "shards", shard_size=250)
        print(f"shards: write {rate(len(sub), time.perf_counter() - t0)}")
        t0 = time.perf_counter()
        n = sum(1 for _ in iter_shards(shards))
        print(f"        read raw {rate(n, time.perf_counter() - t0)}")
        t0 = time.perf_counter()
        n = sum(1 for _ in ShardDataset(shards, duration=10.24))
        print(f"        decoded 10.24 s items {rate(n, time.perf_counter() - t0)}")


if __name__ == "__main__":
    main()
