"""Does "a dog barking" give a dog? The animal probe over many seeds, per prompt (issue 9).

    python benchmarks/animal_probe.py --model foley-small --seeds 32
    python benchmarks/animal_probe.py --model foley-small --real WORK/all.jsonl   # + ceilings
    python benchmarks/animal_probe.py --model foley-small --seeds 12 --candidates 4

For each prompt, ``--seeds`` clips (seeds F..F+N-1, F = ``--first-seed``, 0 unless set;
the model's default sampler, steps, guidance and length) are scored by
`foleyldm.evaluation.probes.animal_probability`: the highest YAMNet probability of the
named animal's classes in any 0.96 s patch. A clip passes at >= 0.5. The table gives the
pass rate, the mean and the most common top class of the clip (YAMNet's clip-mean
ranking), so a failure says what came out instead.

With ``--candidates K`` each clip is the best of K (the pipeline's CLAP re-ranking, as
``foleyldm generate --candidates K``; clip i from seeds F+iK..F+iK+K-1): does the model's
own CLAP pick the candidate YAMNet hears as the animal? ``--negative TEXT`` sets the
guidance's negative prompt (unset: the model's default).

With ``--real MANIFEST``, the same probe on that manifest's held-out (valid + test) clips
of each animal, as they are and through the model's VAE and vocoder (no diffusion): what
the probe gives real recordings, and the most the model's decoder lets a generation reach.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from typing import Any

import numpy as np
import torch

PROMPTS = [
    "a dog barking",
    "a cat meowing",
    "a rooster crowing",
    "a cow mooing",
    "a horse neighing",
    "a sheep bleating",
    "a duck quacking",
    "birds chirping",
    "a frog croaking",
]


def score(wavs: list[np.ndarray], animal: str, yamnet: Any, sr: int) -> tuple[list[float], str]:
    """Probe values of the clips, and their most common clip-level top class."""
    from foleyldm.evaluation.probes import animal_score

    values, tops = [], []
    for w in wavs:
        probs = yamnet.patch_probabilities(w, sr)  # one YAMNet pass for both columns
        values.append(animal_score(probs, yamnet.names, animal))
        tops.append(yamnet.names[int(probs.mean(0).argmax())])
    return values, collections.Counter(tops).most_common(1)[0][0]


def row(label: str, values: list[float], top: str) -> str:
    passed = float(np.mean([v >= 0.5 for v in values]))
    return (
        f"| {label} | {len(values)} | {passed:.2f} | {statistics.fmean(values):.3f} | "
        f"{statistics.median(values):.3f} | {top} |"
    )


def real_rows(pipe: Any, manifest: str, animals: set[str], yamnet: Any) -> list[str]:
    from foleyldm.audio.io import load_audio
    from foleyldm.data.manifest import read_manifest
    from foleyldm.evaluation.benchmark import reconstruct
    from foleyldm.evaluation.probes import animal_of

    held_out = [r for r in read_manifest(manifest) if r.split in ("valid", "test") and r.captions]
    out = []
    for animal in sorted(animals):
        recs = [r for r in held_out if animal_of(r.captions[0]) == animal]
        if not recs:
            continue
        sr = pipe.sample_rate
        wavs = [load_audio(r.path, sr, normalize=True, max_seconds=10.24)[0] for r in recs]
        real = [w.numpy() for w in wavs]
        seconds = max(w.shape[0] for w in wavs) / sr
        coded = reconstruct(pipe, [r.path for r in recs], seconds)
        through = [c[: w.shape[0]].numpy() for c, w in zip(coded, wavs, strict=True)]
        out.append(row(f"{animal}: held-out real clips", *score(real, animal, yamnet, sr)))
        coded_row = score(through, animal, yamnet, sr)
        out.append(row(f"{animal}: same through VAE + vocoder", *coded_row))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="foley-small")
    ap.add_argument("--prompts", nargs="+", default=PROMPTS)
    ap.add_argument("--seeds", type=int, default=16, help="clips per prompt")
    ap.add_argument("--first-seed", type=int, default=0, help="clip i uses seed FIRST + i")
    ap.add_argument("--batch", type=int, default=8, help="clips per call (x K candidates)")
    ap.add_argument("--candidates", type=int, default=1, help="each clip the CLAP-best of K")
    ap.add_argument("--negative", default=None, help="negative prompt; unset: the model's")
    ap.add_argument("--real", default=None, help="manifest: also probe its held-out clips")
    args = ap.parse_args()
    if min(args.seeds, args.batch, args.candidates) < 1 or args.first_seed < 0:
        ap.error("--seeds, --batch and --candidates must be >= 1, --first-seed >= 0")

    from foleyldm import TextToAudioPipeline
    from foleyldm.evaluation.backbones.yamnet import YAMNet
    from foleyldm.evaluation.probes import animal_of

    torch.set_grad_enabled(False)
    pipe = TextToAudioPipeline.from_pretrained(args.model)
    yamnet = YAMNet()
    k = args.candidates
    label = args.model if k == 1 else f"{args.model}, best of {k} by CLAP"
    if args.negative is not None:
        label += f', negative "{args.negative}"'
    print(f"| {label} | clips | pass (>= 0.5) | mean | median | most common top class |")
    print("|---|---|---|---|---|---|")
    animals: set[str] = set()
    for prompt in args.prompts:
        animal = animal_of(prompt)
        if animal is None:
            raise SystemExit(f"error: {prompt!r} names no animal the probe knows")
        animals.add(animal)
        wavs: list[np.ndarray] = []
        t0 = time.perf_counter()
        for start in range(0, args.seeds, args.batch):
            clips = range(start, min(start + args.batch, args.seeds))
            first = args.first_seed
            seeds = [s for c in clips for s in range(first + c * k, first + c * k + k)]
            gens = [torch.Generator().manual_seed(s) for s in seeds]
            out = pipe(
                [prompt] * len(clips),
                generator=gens,
                num_candidates=k,
                negative_prompt=args.negative,
            )
            wavs += [w[0].numpy() for w in out.waveforms]
        values, top = score(wavs, animal, yamnet, pipe.sample_rate)
        print(row(f'"{prompt}"', values, top) + f" <!-- {time.perf_counter() - t0:.0f} s -->")
    if args.real:
        for line in real_rows(pipe, args.real, animals, yamnet):
            print(line)


if __name__ == "__main__":
    main()
