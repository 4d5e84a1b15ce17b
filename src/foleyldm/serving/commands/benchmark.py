"""``foleyldm benchmark-model``: generate a prompt set with a model and score it."""

from __future__ import annotations

import argparse
import sys

from foleyldm.serving.cli import HelpFormatter


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from foleyldm.diffusion.samplers import SAMPLERS

    p = sub.add_parser(
        "benchmark-model",
        help="generate one clip per row of a prompt set, then score them",
        formatter_class=HelpFormatter,
        description="Generate OUT/audio/<name>.wav for each row of an AudioCaps-style CSV "
        "(columns caption and path/audio, optional name/id), each row from its own seed "
        "(SEED + row), then compute FD/IS/KL/KID on the backbones, the CLAP score, "
        "text→audio retrieval and the controllability probes the captions ask for. Clips "
        "already made with the same configuration are reused (OUT/config.json); another "
        "configuration in the same OUT is refused. MODEL `real` scores the reference clips "
        "themselves (the ceiling). Writes OUT/results.json and OUT/results.md and prints "
        "the table.",
    )
    p.add_argument("model", metavar="MODEL", help="model folder, release name, preset, or real")
    p.add_argument("--prompts", required=True, metavar="SET.csv", help="the prompt set")
    p.add_argument("--out", default=None, help="output folder; unset: benchmark-<MODEL>")
    p.add_argument("--steps", type=int, default=None, help="denoising steps; unset: the model's")
    p.add_argument("--guidance", type=float, default=None, help="CFG scale; unset: the model's")
    p.add_argument(
        "--sampler", default=None, choices=list(SAMPLERS), help="solver; unset: the model's"
    )
    p.add_argument("--eta", type=float, default=None, help="DDIM eta; unset: the model's")
    p.add_argument(
        "--negative",
        default=None,
        help="negative prompt of the guidance; unset: the model's ('' the empty text)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="length of every clip; unset: each reference clip's, at most 10.24 s",
    )
    p.add_argument("--seed", type=int, default=0, help="row i uses seed SEED + i")
    p.add_argument("--batch-size", type=int, default=4, help="clips per generation call")
    p.add_argument("--limit", type=int, default=None, help="only the first N rows")
    p.add_argument(
        "--vocoder",
        default=None,
        choices=["hifigan", "griffin-lim"],
        help="mel -> waveform; unset: the model's choice",
    )
    p.add_argument(
        "--condition",
        choices=["text", "audio", "reconstruct"],
        default="text",
        help="condition on the caption's CLAP text embedding, or on the CLAP audio "
        "embedding of the row's reference clip (the audio-conditioning ablation); "
        "reconstruct: no diffusion, each reference clip through the VAE and vocoder "
        "(the codec's ceiling)",
    )
    p.add_argument(
        "--metrics",
        default="auto",
        help="comma-separated subset of fd,fad,is,kl,kid,clap,retrieval,probes; auto: "
        "fd,is,kl,kid on backbones with a classifier, fd on the others, clap, retrieval, "
        "probes",
    )
    p.add_argument(
        "--backbone",
        default=None,
        help="feature backbone(s), comma-separated; unset: yamnet,aisfx (one that is not "
        "installed is left out with a note)",
    )
    p.add_argument(
        "--backbone-weights",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="official weights file of cnn14 / vggish; repeat as NAME=PATH",
    )
    p.add_argument(
        "--clap", default=None, help="model whose CLAP scores the clips; unset: MODEL's own"
    )
    p.add_argument(
        "--reference",
        default=None,
        metavar="OTHER.csv",
        help="compare FD/KID (and KL where names pair) against this set's clips instead",
    )
    p.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="embedding cache; unset: $FOLEYLDM_CACHE/eval",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--fd-method", choices=["sqrtm", "eigh"], default="sqrtm", help="FD matrix square root"
    )
    p.add_argument(
        "--pitch-method", choices=["pyin", "yin"], default="pyin", help="pitch probe's f0 tracker"
    )
    p.add_argument("--device", default="auto", help="generation device: auto, cpu, cuda, mps")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from foleyldm.evaluation.benchmark import BenchmarkError, BenchmarkOptions, run_benchmark
    from foleyldm.evaluation.cache import default_cache_dir
    from foleyldm.evaluation.prompt_set import safe_name
    from foleyldm.evaluation.scoring import ScoreOptions
    from foleyldm.serving.commands.evaluate import _weights_by_backbone

    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise BenchmarkError("--batch-size and --limit must be at least 1")
    names = None
    if args.backbone is not None:
        names = [n.strip() for n in args.backbone.split(",") if n.strip()]
    metrics = None
    if args.metrics != "auto":
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    scoring = ScoreOptions(
        metrics=metrics,
        backbones=names,
        backbone_weights=_weights_by_backbone(names or [], args.backbone_weights),
        cache_dir=None if args.no_cache else (args.cache or default_cache_dir()),
        fd_method=args.fd_method,
        pitch_method=args.pitch_method,
    )
    opts = BenchmarkOptions(
        steps=args.steps,
        guidance=args.guidance,
        sampler=args.sampler,
        eta=args.eta,
        seconds=args.seconds,
        seed=args.seed,
        batch_size=args.batch_size,
        condition=args.condition,
        negative=args.negative,
        vocoder=args.vocoder,
        limit=args.limit,
        reference=args.reference,
        clap=args.clap,
        device=args.device,
        scoring=scoring,
    )
    out = args.out or f"benchmark-{safe_name(args.model) or 'model'}"
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    result = run_benchmark(args.model, args.prompts, out, opts, log)
    print(result.to_markdown())
    return 0
