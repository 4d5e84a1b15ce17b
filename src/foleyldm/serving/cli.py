"""The ``foleyldm`` command. It holds no logic: every subcommand calls the library."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from foleyldm.errors import FoleyError

# Keep the tokenizers library from forking threads that warn on exit, and never reach a hub
# unless the user asked for a hub id (huggingface_hub reads this per call).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "foley-small"

#: Further subcommands, one module each under serving/commands/, each with
#: ``register(subparsers)`` that adds its parser and sets ``func`` (returns an exit code).
_COMMAND_MODULES: tuple[str, ...] = (
    "foleyldm.serving.commands.convert",
    "foleyldm.serving.commands.edit",
    "foleyldm.serving.commands.data",
    "foleyldm.serving.commands.evaluate",
    "foleyldm.serving.commands.benchmark",
    "foleyldm.serving.commands.serve",
    "foleyldm.serving.commands.train",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _add_generate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from foleyldm.diffusion.samplers import SAMPLERS
    from foleyldm.pipelines.text_to_audio import MAX_DURATION_S

    p = sub.add_parser(
        "generate",
        help="generate audio from a text prompt",
        formatter_class=HelpFormatter,
        description="Generate audio from text. Options left unset take the model's own defaults "
        "(see `foleyldm info MODEL`).",
    )
    p.add_argument("prompt", nargs="?", help="what to hear, e.g. 'a dog barking'")
    p.add_argument(
        "-o",
        "--output",
        default="out.wav",
        help="output .wav/.flac file (a folder with --batch-file)",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model folder, hub id, or preset name (tiny is random weights: noise)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds of audio, at most {MAX_DURATION_S:g} (default: model's)",
    )
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: model's)")
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="classifier-free guidance scale (default: model's)",
    )
    p.add_argument(
        "--negative",
        default=None,
        help="negative prompt (default: the model's; '' for the empty text)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed; the same seed gives the same audio (default: random, printed)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        default=1,
        help="generate N candidates and keep the one CLAP ranks best",
    )
    p.add_argument("--num-waveforms", type=int, default=1, help="outputs per prompt")
    p.add_argument(
        "--sampler", default=None, choices=list(SAMPLERS), help="solver (default: model's)"
    )
    p.add_argument("--eta", type=float, default=None, help="DDIM eta (reference AudioLDM: 1.0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="mixed precision of UNet, VAE and vocoder (bf16: fast on AVX512-BF16 CPUs and GPUs)",
    )
    p.add_argument(
        "--vocoder",
        default=None,
        choices=["hifigan", "griffin-lim"],
        help="mel -> waveform: the model's HiFi-GAN or training-free Griffin-Lim (default: "
        "the model's choice)",
    )
    p.add_argument(
        "--batch-file", default=None, help="text file, one prompt a line, optionally 'prompt|name'"
    )
    p.add_argument(
        "--plot", action="store_true", help="also write a spectrogram PNG beside each file"
    )
    p.add_argument(
        "--allow-empty-prompt",
        action="store_true",
        help="allow an empty prompt (unconditional generation)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_generate)


def _add_info(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "info", help="print a model's components, sizes and config", formatter_class=HelpFormatter
    )
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model folder, hub id or preset")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--card", action="store_true", help="print a shipped model's model card")
    p.set_defaults(func=_cmd_info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foleyldm",
        description="Text-to-audio generation with latent diffusion (AudioLDM).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(sub)
    _add_info(sub)
    for module in _COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("foleyldm")
    except PackageNotFoundError:
        return "unknown"


# ---- generate -----------------------------------------------------------------------------
def _read_batch_file(path: str) -> list[tuple[str, str]]:
    """Lines 'prompt' or 'prompt|name' -> [(prompt, name)]; blank lines and '#' skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise FoleyError(f"cannot read batch file {path}: {e.strerror}") from None
    items: list[tuple[str, str]] = []
    for i, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        prompt, _, name = line.partition("|")
        prompt, name = prompt.strip(), name.strip()
        if not prompt:
            raise FoleyError(f"{path}:{i}: empty prompt")
        items.append((prompt, _safe_name(name or prompt) or f"clip{i:04d}"))
    if not items:
        raise FoleyError(f"batch file {path} holds no prompts")
    return items


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:80]


def _cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from foleyldm.audio.io import save_audio
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

    if args.batch_file:
        jobs = _read_batch_file(args.batch_file)
        out_dir = Path(args.output if not args.output.endswith((".wav", ".flac")) else "out")
        outputs = [out_dir / f"{name}.wav" for _, name in jobs]
    else:
        if args.prompt is None:
            raise FoleyError("give a prompt (or --batch-file FILE)")
        jobs = [(args.prompt, "")]
        outputs = [Path(args.output)]
    for out in outputs:
        if out.suffix.lower() not in (".wav", ".flac"):
            raise FoleyError(f"output {out} must end in .wav or .flac")
    seed = args.seed if args.seed is not None else random.randrange(2**31)

    pipe = TextToAudioPipeline.from_pretrained(args.model, device=args.device)
    pipe.set_precision(args.precision)
    if args.vocoder is not None:
        pipe.codec.vocoder_mode = args.vocoder
    for k, ((prompt, _), out) in enumerate(zip(jobs, outputs, strict=True)):
        generator = torch.Generator(device="cpu").manual_seed(seed + k)
        result = pipe(
            prompt,
            negative_prompt=args.negative,
            audio_length_in_s=args.duration,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            num_waveforms_per_prompt=args.num_waveforms,
            num_candidates=args.candidates,
            sampler=args.sampler,
            eta=args.eta,
            generator=generator,
            callback=None
            if args.quiet
            else _progress(f"[{k + 1}/{len(jobs)}] " if len(jobs) > 1 else ""),
            return_mels=args.plot,
            allow_empty_prompt=args.allow_empty_prompt,
        )
        wavs = result.waveforms
        assert isinstance(wavs, torch.Tensor)
        for j in range(wavs.shape[0]):
            path = out if wavs.shape[0] == 1 else out.with_name(f"{out.stem}-{j}{out.suffix}")
            save_audio(path, wavs[j, 0], result.sample_rate)
            if args.plot and result.mels is not None:
                from foleyldm.audio.plot import save_spectrogram_png

                save_spectrogram_png(
                    path.with_suffix(".png"),
                    result.mels[j, 0],
                    result.sample_rate,
                    pipe.codec.mel.hop_length,
                    title=prompt,
                )
            print(path)
    if args.seed is None:  # reported once everything is written, so errors stay one line
        print(f"seed: {seed} (pass --seed {seed} to reproduce)", file=sys.stderr)
    return 0


def _progress(prefix: str) -> Any:
    from tqdm import tqdm

    bar: dict[str, tqdm[Any]] = {}

    def callback(step: int, total: int, _latents: Any) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(
                total=total, desc=f"{prefix}denoising", unit="step", file=sys.stderr, leave=False
            )
        bar["bar"].update(1)
        if step == total:
            bar.pop("bar").close()

    return callback


# ---- info ---------------------------------------------------------------------------------
def _cmd_info(args: argparse.Namespace) -> int:
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

    if args.card:
        from foleyldm.models.shipped import model_card

        print(model_card(args.model))
        return 0
    pipe = TextToAudioPipeline.from_pretrained(args.model, device="cpu")
    info = describe(pipe)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model: {info['name']}")
    for comp, d in info["components"].items():
        print(f"  {comp:8s} {d['class']:34s} {d['parameters'] / 1e6:9.2f} M params")
    print(f"  total    {'':34s} {info['total_parameters'] / 1e6:9.2f} M params")
    print(f"mel front end: {info['mel']}")
    print(f"latent: {info['latent']}")
    print(f"defaults: {info['defaults']}")
    print(f"vocoder: {info['vocoder']}")
    print(f"noise schedule: {info['scheduler']}")
    return 0


def describe(pipe: Any) -> dict[str, Any]:
    """A JSON-able summary of a pipeline: components, parameter counts and config."""
    comps = {
        name: {"class": type(m).__name__, "parameters": sum(p.numel() for p in m.parameters())}
        for name, m in pipe.components.items()
    }
    codec = pipe.codec
    return {
        "name": pipe.name,
        "components": comps,
        "vocoder": codec.vocoder_mode,
        "total_parameters": sum(c["parameters"] for c in comps.values()),
        "mel": codec.mel.to_dict(),
        "latent": {
            "channels": codec.latent_channels,
            "compression": codec.compression,
            "bins": codec.latent_bins,
            "scaling_factor": codec.scaling_factor,
        },
        "unet": {
            "block_out_channels": list(pipe.unet.config.block_out_channels),
            "layers_per_block": pipe.unet.config.layers_per_block,
            "attention_heads": pipe.unet.config.attention_head_dim,
        },
        "clap_backend": pipe.clap.backend,
        "defaults": pipe.defaults,
        "scheduler": {k: v for k, v in pipe.scheduler_config.items() if not k.startswith("_")},
    }


# ---- entry point --------------------------------------------------------------------------
def _quiet_libraries() -> None:
    """Keep library chatter (weight-loading bars, info logs) off the user's terminal."""
    import transformers
    from diffusers.utils import logging as diffusers_logging

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return int(args.func(args))
    except (FoleyError, ValueError) as e:  # ValueError: AudioError and other bad input
        if os.environ.get("FOLEYLDM_DEBUG"):
            raise
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
