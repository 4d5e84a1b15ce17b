"""``foleyldm transfer | inpaint | upsample | vary``: the zero-shot editors on an audio file.

No logic here: each command loads the input through the pipeline and writes its output.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foleyldm.errors import FoleyError
from foleyldm.serving.cli import DEFAULT_MODEL, HelpFormatter, _progress

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: Sub) -> None:
    p = _parser(
        sub,
        "transfer",
        "style transfer: re-imagine a clip after a prompt",
        "Noise the input's latent part-way and denoise it towards the prompt. --strength 0 "
        "returns the input's re-synthesis, 1 ignores the input.",
    )
    p.add_argument("prompt", help="what the result should sound like")
    p.add_argument(
        "--strength",
        type=float,
        default=0.5,
        help="0..1: how far to move from the input (share of the denoising steps run)",
    )
    p.set_defaults(func=_run_transfer)

    p = _parser(
        sub,
        "inpaint",
        "regenerate time ranges of a clip, keep the rest",
        "Regenerate the given time ranges; everything else is the input itself, joined by "
        "equal-power crossfades. Without a prompt the input's own CLAP audio embedding "
        "guides the fill.",
        prompt_help="what to put there (optional)",
    )
    p.add_argument(
        "--ranges", required=True, help="seconds to regenerate, START-END[,START-END...]"
    )
    p.add_argument("--crossfade", type=float, default=0.05, help="crossfade length, seconds")
    p.add_argument(
        "--resynthesize",
        action="store_true",
        help="outside the ranges output the codec's re-synthesis instead of the input",
    )
    p.set_defaults(func=_run_inpaint)

    p = _parser(
        sub,
        "upsample",
        "super-resolution: regenerate the bands above a cutoff",
        "Bandwidth extension: keep the input below its cutoff (detected from the spectrum, or "
        "--cutoff) and generate what lies above.",
        prompt_help="a description of the audio (optional)",
    )
    p.add_argument(
        "--cutoff", type=float, default=None, help="the input's band limit in Hz (default: detect)"
    )
    p.add_argument(
        "--threshold-db",
        type=float,
        default=50.0,
        help="detection: highest frequency within this many dB of the loudest band",
    )
    p.set_defaults(func=_run_upsample)

    p = _parser(
        sub,
        "vary",
        "generate variations of a clip (no text)",
        "Generate new audio conditioned on the input's CLAP audio embedding.",
    )
    p.add_argument(
        "--duration", type=float, default=None, help="seconds (default: the input's length)"
    )
    p.add_argument("--num-waveforms", type=int, default=1, help="variations to write")
    p.set_defaults(func=_run_vary)


class _IntermixedParser(argparse.ArgumentParser):
    """Lets the optional prompt follow the options (``inpaint IN.wav --ranges 2-3 "rain"``):
    plain argparse fills a "?" positional, with nothing, together with the one before it."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _parser(
    sub: Sub, name: str, help_text: str, description: str, prompt_help: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand with the input file and the common knobs (and an optional prompt)."""
    from foleyldm.diffusion.samplers import SAMPLERS

    p = sub.add_parser(name, help=help_text, description=description, formatter_class=HelpFormatter)
    p.add_argument("input", help="input audio file (wav, flac, ogg; any rate, any length)")
    if prompt_help is not None:
        p.__class__ = _IntermixedParser
        p.add_argument("prompt", nargs="?", default=None, help=prompt_help)
    p.add_argument("-o", "--output", default="out.wav", help="output .wav/.flac file")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model folder, hub id, or preset name")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: model's)")
    p.add_argument(
        "--guidance", type=float, default=None, help="classifier-free guidance (default: model's)"
    )
    p.add_argument(
        "--negative", default=None, help="negative prompt (default: the model's; '' empty text)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument(
        "--sampler", default=None, choices=list(SAMPLERS), help="solver (default: model's)"
    )
    p.add_argument("--eta", type=float, default=None, help="DDIM eta (reference AudioLDM: 1.0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="mixed precision of UNet, VAE and vocoder",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _setup(args: argparse.Namespace, cls: type[Any]) -> tuple[Any, dict[str, Any], int]:
    """Check the output name, load the pipeline, and collect the shared keyword arguments."""
    import torch

    out = Path(args.output)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise FoleyError(f"output {out} must end in .wav or .flac")
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    pipe = cls.from_pretrained(args.model, device=args.device)
    pipe.pipe.set_precision(args.precision)
    common = {
        "negative_prompt": args.negative,
        "num_inference_steps": args.steps,
        "guidance_scale": args.guidance,
        "sampler": args.sampler,
        "eta": args.eta,
        "generator": torch.Generator(device="cpu").manual_seed(seed),
        "callback": None if args.quiet else _progress(""),
    }
    return pipe, common, seed


def _write(args: argparse.Namespace, result: Any, seed: int) -> int:
    from foleyldm.audio.io import save_audio

    out = Path(args.output)
    wavs = result.waveforms
    for j in range(wavs.shape[0]):
        path = out if wavs.shape[0] == 1 else out.with_name(f"{out.stem}-{j}{out.suffix}")
        save_audio(path, wavs[j, 0].clamp(-1.0, 1.0), result.sample_rate)
        print(path)
    if args.seed is None:  # reported once everything is written, so errors stay one line
        print(f"seed: {seed} (pass --seed {seed} to reproduce)", file=sys.stderr)
    return 0


def _run_transfer(args: argparse.Namespace) -> int:
    from foleyldm.pipelines.audio_to_audio import AudioToAudioPipeline

    pipe, common, seed = _setup(args, AudioToAudioPipeline)
    result = pipe(args.input, args.prompt, strength=args.strength, **common)
    return _write(args, result, seed)


def _run_inpaint(args: argparse.Namespace) -> int:
    from foleyldm.pipelines.inpaint import InpaintPipeline, parse_ranges

    ranges = parse_ranges(args.ranges)
    pipe, common, seed = _setup(args, InpaintPipeline)
    result = pipe(
        args.input,
        ranges,
        args.prompt,
        crossfade_s=args.crossfade,
        paste_original=not args.resynthesize,
        **common,
    )
    spans = ", ".join(f"{a:.2f}-{b:.2f}" for a, b in result.regenerated)
    print(f"regenerated: {spans} s", file=sys.stderr)
    return _write(args, result, seed)


def _run_upsample(args: argparse.Namespace) -> int:
    from foleyldm.pipelines.super_resolution import SuperResolutionPipeline

    pipe, common, seed = _setup(args, SuperResolutionPipeline)
    result = pipe(
        args.input,
        args.prompt,
        cutoff_hz=args.cutoff,
        threshold_db=args.threshold_db,
        **common,
    )
    how = "detected" if result.cutoff_detected else "given"
    print(f"cutoff: {result.cutoff_hz:.0f} Hz ({how})", file=sys.stderr)
    return _write(args, result, seed)


def _run_vary(args: argparse.Namespace) -> int:
    from foleyldm.pipelines.variation import VariationPipeline

    pipe, common, seed = _setup(args, VariationPipeline)
    result = pipe(
        args.input,
        audio_length_in_s=args.duration,
        num_waveforms_per_prompt=args.num_waveforms,
        **common,
    )
    return _write(args, result, seed)
