"""``foleyldm data ...``: manifests, synthesized Foley, the built-in corpus, shards."""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from foleyldm.serving.cli import HelpFormatter

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: Sub) -> None:
    p = sub.add_parser(
        "data",
        help="build manifests, synthesized sound, the built-in corpus and shards",
        formatter_class=HelpFormatter,
        description="Data tools. Every command writes JSONL manifests (one line per clip).",
    )
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    _add_manifest(data_sub)
    _add_synth(data_sub)
    _add_build_corpus(data_sub)
    _add_shard(data_sub)
    _add_render_music(data_sub)
    _add_speech(data_sub)
    _add_variants(data_sub)
    _add_prompts(data_sub)


# ---- manifest -----------------------------------------------------------------------------
def _add_manifest(sub: Sub) -> None:
    p = sub.add_parser(
        "manifest",
        help="scan a folder of audio into a JSONL manifest",
        formatter_class=HelpFormatter,
        description="Probe every audio file under DIR (wav, flac, ogg, mp3, aiff, au) and write "
        "one JSONL line per readable clip. Captions come from a sidecar clip.txt / clip.json, "
        "an AudioLDM training JSON, an AudioCaps CSV, else from words of the path. Unreadable "
        "files are skipped and listed in the report with the reason.",
    )
    p.add_argument("dir", help="folder to scan (recursively)")
    p.add_argument("-o", "--output", default="manifest.jsonl", help="manifest to write")
    p.add_argument(
        "--audiocaps-csv",
        action="append",
        default=[],
        metavar="CSV",
        help="AudioCaps CSV (audiocap_id,youtube_id,start_time,caption); repeatable",
    )
    p.add_argument(
        "--audioldm-json",
        action="append",
        default=[],
        metavar="JSON",
        help='AudioLDM training JSON {"data": [{"wav", "caption", "labels"}]}; repeatable',
    )
    p.add_argument("--source", default=None, help="source name (default: the folder's name)")
    p.add_argument("--license", default="", help="licence of files without a sidecar licence")
    p.add_argument("--valid", type=float, default=0.05, help="fraction for the valid split")
    p.add_argument("--test", type=float, default=0.05, help="fraction for the test split")
    p.add_argument("--workers", type=int, default=4, help="threads probing files")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="read headers only (fast) instead of decoding every file to catch corrupt data",
    )
    p.add_argument(
        "--report",
        default=None,
        help="skip report (TSV path<TAB>reason; default: OUTPUT with .skipped.tsv)",
    )
    p.set_defaults(func=_cmd_manifest)


def _cmd_manifest(args: argparse.Namespace) -> int:
    from foleyldm.data.manifest import build_manifest, write_manifest, write_skip_report

    report = build_manifest(
        args.dir,
        audiocaps_csv=args.audiocaps_csv,
        audioldm_json=args.audioldm_json,
        source=args.source,
        license=args.license,
        valid=args.valid,
        test=args.test,
        workers=args.workers,
        verify=not args.no_verify,
    )
    out = write_manifest(args.output, report.records)
    splits = collections.Counter(r.split for r in report.records)
    hours = sum(r.duration for r in report.records) / 3600
    print(
        f"{out}: {len(report.records)} clips, {hours:.2f} h "
        f"(train {splits['train']}, valid {splits['valid']}, test {splits['test']})"
    )
    if report.skipped:
        rep = write_skip_report(
            args.report or out.with_name(out.name.removesuffix(".jsonl") + ".skipped.tsv"),
            report.skipped,
        )
        print(f"skipped {len(report.skipped)} unreadable files (reasons in {rep})", file=sys.stderr)
    return 0


# ---- synth --------------------------------------------------------------------------------
def _add_synth(sub: Sub) -> None:
    from foleyldm.data.synth.generate import KINDS

    p = sub.add_parser(
        "synth",
        help="write physically modelled Foley clips (FLAC) and their manifest",
        formatter_class=HelpFormatter,
        description="Synthesize clips by modelling the physics: struck objects of five materials "
        "(modal synthesis), scraping, rolling, springs, rain, wind, streams, fire, engines and "
        f"motors ({', '.join(KINDS)}), some placed in synthetic rooms. Captions come from the "
        "parameters; clip i of seed S is always the same.",
    )
    p.add_argument("out_dir", help="folder for clips/ and manifest.jsonl")
    p.add_argument("--count", type=int, default=100, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="seed of the set")
    p.add_argument("--room-prob", type=float, default=0.3, help="share of clips placed in a room")
    p.add_argument("--workers", type=int, default=1, help="processes rendering in parallel")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(args: argparse.Namespace) -> int:
    from foleyldm.data.synth.generate import write_synth_set

    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    t0 = time.perf_counter()
    recs = write_synth_set(
        args.out_dir, args.count, args.seed, room_prob=args.room_prob, workers=args.workers
    )
    hours = sum(r.duration for r in recs) / 3600
    kinds = collections.Counter(r.labels[1] for r in recs)
    mix = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
    print(
        f"{Path(args.out_dir) / 'manifest.jsonl'}: {len(recs)} clips, {hours * 60:.1f} min "
        f"in {time.perf_counter() - t0:.1f} s ({mix})"
    )
    return 0


# ---- build-corpus -------------------------------------------------------------------------
def _add_build_corpus(sub: Sub) -> None:
    from foleyldm.data.corpus_sources import PACKAGES

    p = sub.add_parser(
        "build-corpus",
        help="build the built-in corpus of recorded sound from Debian packages",
        formatter_class=HelpFormatter,
        description="Download Debian packages with `apt-get download` (nothing is installed; "
        "run `apt-get update` once first), unpack them with dpkg -x, and turn their sound "
        "files into 16 kHz mono FLAC clips of at most 10.24 s with captions, per-file "
        "licences and a manifest. The .debs and unpacked trees are cached. Packages: "
        + ", ".join(PACKAGES),
    )
    p.add_argument("out_dir", help="corpus folder (keep it outside the git repository)")
    p.add_argument(
        "--packages",
        nargs="+",
        default=None,
        metavar="PKG",
        help="only these packages (default: all)",
    )
    p.add_argument("--cache", default=None, help="cache folder (default: OUT_DIR/cache)")
    p.add_argument("--workers", type=int, default=2, help="processes encoding audio")
    p.set_defaults(func=_cmd_build_corpus)


def _cmd_build_corpus(args: argparse.Namespace) -> int:
    from foleyldm.data.corpus import build_corpus

    t0 = time.perf_counter()
    rep = build_corpus(args.out_dir, args.packages, args.cache, workers=args.workers)
    cats = rep.categories()
    print(
        f"{len(rep.records)} clips, {rep.hours:.2f} h, {len(cats)} categories; "
        f"{rep.duplicates} duplicate files dropped, {len(rep.skipped)} skipped "
        f"(see {Path(args.out_dir) / 'skipped.tsv'}); {time.perf_counter() - t0:.0f} s"
    )
    print("largest categories: " + ", ".join(f"{c} {n}" for c, n in cats.most_common(10)))
    missing = {p: s for p, s in rep.packages.items() if s != "ok"}
    for pkg, why in missing.items():
        print(f"left out {pkg}: {why}", file=sys.stderr)
    return 1 if missing and not rep.records else 0


# ---- shard --------------------------------------------------------------------------------
def _add_shard(sub: Sub) -> None:
    p = sub.add_parser(
        "shard",
        help="pack a manifest's clips into WebDataset tar shards",
        formatter_class=HelpFormatter,
        description="Write OUT/shard-000000.tar, ... (each clip's original bytes as KEY.<ext> "
        "and its manifest record as KEY.json) and OUT/index.json. Read them with "
        "webdataset.WebDataset('OUT/shard-{000000..N}.tar') or foleyldm.data.shards.",
    )
    p.add_argument("manifest", help="JSONL manifest")
    p.add_argument("out_dir", help="folder for the shards")
    p.add_argument("--shard-size", type=int, default=1000, help="clips per shard")
    p.add_argument("--split", default=None, help="only this split (default: all clips)")
    p.set_defaults(func=_cmd_shard)


def _cmd_shard(args: argparse.Namespace) -> int:
    from foleyldm.data.manifest import read_manifest
    from foleyldm.data.shards import write_shards

    records = read_manifest(args.manifest, split=args.split)
    shards, skipped = write_shards(records, args.out_dir, args.shard_size)
    print(f"{len(records) - len(skipped)} clips in {len(shards)} shards under {args.out_dir}")
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    return 0


# ---- render-music and speech --------------------------------------------------------------
def _add_render_music(sub: Sub) -> None:
    p = sub.add_parser(
        "render-music",
        help="render notes, scales, chords, arpeggios and drum beats from a SoundFont",
        formatter_class=HelpFormatter,
        description="Render random scores with a General MIDI SoundFont (Debian "
        "fluid-soundfont-gm; Python package tinysoundfont, installed with --no-deps) to FLAC, "
        "captioned exactly, e.g. 'a violin playing a slow ascending major scale in a high "
        "register'. Clip i of seed S is always the same score.",
    )
    p.add_argument("out_dir", help="folder for clips/ and manifest.jsonl")
    p.add_argument("--count", type=int, default=100, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="seed of the set")
    p.add_argument("--soundfont", default=None, help="a .sf2/.sf3 (default: the Debian GM one)")
    p.set_defaults(func=_cmd_render_music)


def _cmd_render_music(args: argparse.Namespace) -> int:
    from foleyldm.data import music

    if not music.available(args.soundfont):
        raise ValueError(
            "rendering needs tinysoundfont (pip install --no-deps tinysoundfont) and a "
            "SoundFont (apt-get install fluid-soundfont-gm, or --soundfont FILE)"
        )
    recs = music.write_music_set(args.out_dir, args.count, args.seed, soundfont=args.soundfont)
    minutes = sum(r.duration for r in recs) / 60
    print(f"{Path(args.out_dir) / 'manifest.jsonl'}: {len(recs)} clips, {minutes:.1f} min")
    return 0


def _add_speech(sub: Sub) -> None:
    p = sub.add_parser(
        "speech",
        help="synthesize captioned speech with espeak-ng",
        formatter_class=HelpFormatter,
        description="Speak short sentences in six languages with espeak-ng voices (male and "
        "female variants, three paces) to FLAC, captioned e.g. 'a woman speaking quickly in "
        "English'. Needs the espeak-ng program (apt-get install espeak-ng).",
    )
    p.add_argument("out_dir", help="folder for clips/ and manifest.jsonl")
    p.add_argument("--count", type=int, default=100, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="seed of the set")
    p.set_defaults(func=_cmd_speech)


def _cmd_speech(args: argparse.Namespace) -> int:
    from foleyldm.data import speech

    if not speech.available():
        raise ValueError("espeak-ng not found (apt-get install espeak-ng)")
    recs = speech.write_speech_set(args.out_dir, args.count, args.seed)
    minutes = sum(r.duration for r in recs) / 60
    print(f"{Path(args.out_dir) / 'manifest.jsonl'}: {len(recs)} clips, {minutes:.1f} min")
    return 0


# ---- variants -----------------------------------------------------------------------------
def _add_variants(sub: Sub) -> None:
    p = sub.add_parser(
        "variants",
        help="write varied copies of a rare category's train clips (size, runs, room, level)",
        formatter_class=HelpFormatter,
        description="For every train-split clip of MANIFEST whose caption or label matches "
        "--match, write --copies variants: resampled (a smaller or bigger source: pitch, "
        "formants and tempo together), short clips repeated into runs of calls, placed in a "
        "synthetic room (captioned), a quiet background, a random level. Variants are train "
        "clips with their parent's captions, labels, source and licence; held-out clips are "
        "never used. Merge OUT_DIR/manifest.jsonl into the training manifest.",
    )
    p.add_argument("manifest", help="manifest to take the clips from")
    p.add_argument("out_dir", help="folder for clips/ and manifest.jsonl")
    p.add_argument("--match", required=True, help="regular expression, e.g. 'dog|bark'")
    p.add_argument("--copies", type=int, default=8, help="variants per matching clip")
    p.add_argument("--seed", type=int, default=0, help="seed of the set")
    p.add_argument("--workers", type=int, default=1, help="processes rendering in parallel")
    p.set_defaults(func=_cmd_variants)


def _cmd_variants(args: argparse.Namespace) -> int:
    from foleyldm.data.manifest import read_manifest
    from foleyldm.data.variants import write_variants

    recs = write_variants(
        read_manifest(args.manifest),
        args.out_dir,
        args.match,
        args.copies,
        seed=args.seed,
        workers=args.workers,
    )
    minutes = sum(r.duration for r in recs) / 60
    parents = len({r.meta["variant_of"] for r in recs})
    print(
        f"{Path(args.out_dir) / 'manifest.jsonl'}: {len(recs)} variants of {parents} clips, "
        f"{minutes:.1f} min"
    )
    return 0


# ---- prompts ------------------------------------------------------------------------------
def _add_prompts(sub: Sub) -> None:
    p = sub.add_parser(
        "prompts",
        help="write a prompt set (CSV of name, caption, reference clip) from a manifest",
        formatter_class=HelpFormatter,
        description="Write the AudioCaps-style CSV that `foleyldm benchmark-model --prompts` "
        "reads: one row per captioned clip of a manifest's split (its first caption), with "
        "its path relative to the CSV's folder when it lies under it, else absolute.",
    )
    p.add_argument("manifest", help="JSONL manifest")
    p.add_argument("--split", default="test", help="split to take (all: every clip)")
    p.add_argument("-o", "--output", default="prompts.csv", help="CSV to write")
    p.add_argument("--limit", type=int, default=None, help="at most N rows")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="shuffle with this seed before --limit; unset: the manifest's order",
    )
    p.set_defaults(func=_cmd_prompts)


def _cmd_prompts(args: argparse.Namespace) -> int:
    from foleyldm.evaluation.prompt_set import prompts_from_manifest

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    split = None if args.split == "all" else args.split
    rows, uncaptioned = prompts_from_manifest(
        args.manifest, args.output, split, args.limit, args.seed
    )
    note = f" ({uncaptioned} uncaptioned clips left out)" if uncaptioned else ""
    print(f"{args.output}: {len(rows)} prompts from split {args.split}{note}")
    return 0
