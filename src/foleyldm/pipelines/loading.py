"""Save and load pipelines in the diffusers layout; build presets; resolve hub ids.

Layout of a model folder (what diffusers' ``AudioLDMPipeline`` reads, plus one file of ours)::

    model_index.json        component -> (library, class)
    foleyldm.json           mel front end, generation defaults, CLAP backend (ours; optional)
    unet/  vae/  vocoder/  scheduler/
    text_encoder/ tokenizer/ [audio_encoder/ feature_extractor/]   (LAION CLAP backend)
    clap/                                                           (our dual-encoder backend)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import diffusers
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from foleyldm.audio.mel import AUDIOLDM_16K, MelConfig
from foleyldm.errors import CheckpointError, ModelNotFoundError
from foleyldm.models.clap import CLAP, has_clap, load_clap, save_clap
from foleyldm.models.codec import VOCODER_MODES, LatentCodec
from foleyldm.models.init import spread_init_
from foleyldm.models.presets import AUDIOLDM_SCHEDULER, PRESETS, Preset
from foleyldm.models.registry import RELEASES, resolve_release
from foleyldm.models.shipped import SHIPPED, shipped_path
from foleyldm.models.unet import AttentionLayout, load_unet
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

MODEL_INDEX = "model_index.json"
FOLEY_CONFIG = "foleyldm.json"
FORMAT_VERSION = 1


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None -> CUDA, else Apple MPS, else CPU; anything else as given."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


# ---- presets ------------------------------------------------------------------------------
def build_clap(spec: dict[str, Any], seed: int = 0) -> CLAP:
    """A CLAP with random weights (pretrained MiniLM text tower where the spec says so)."""
    from foleyldm.models.clap import laion
    from foleyldm.models.clap.dual import DualEncoderCLAP, DualEncoderConfig

    spec = dict(spec)
    backend = spec.pop("backend")
    if backend == "dual":
        return DualEncoderCLAP.build(DualEncoderConfig.from_dict(spec), seed=seed)
    if backend == "laion":
        audio = {
            "htsat-tiny": laion.HTSAT_TINY_AUDIO_CONFIG,
            "htsat-base": laion.HTSAT_BASE_AUDIO_CONFIG,
        }
        return laion.LaionCLAP.build(
            text_config=laion.LAION_TEXT_CONFIG, audio_config=audio[spec["audio"]], seed=seed
        )
    raise ValueError(f"unknown CLAP backend {backend!r}")


def build_pipeline(
    preset: Preset | str, seed: int = 0, init: Literal["spread", "library"] = "spread"
) -> TextToAudioPipeline:
    """A pipeline with random weights in a preset's shapes (deterministic in ``seed``).

    ``init="spread"`` draws weights so that every layer shapes the output (untrained test
    models: different seeds give clearly different audio); ``"library"`` keeps diffusers' and
    transformers' own initialisation (the start of training). The global RNG is forked, so
    building a model never changes the caller's random state.
    """
    p = PRESETS[preset] if isinstance(preset, str) else preset
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**p.unet)
        vae = AutoencoderKL(**p.vae)
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**p.vocoder))
    if init == "spread":
        g = torch.Generator().manual_seed(seed)
        for m in (unet, vae, vocoder):
            spread_init_(m, g)
    clap = build_clap(p.clap, seed=seed + 1)
    codec = LatentCodec(vae, vocoder, p.mel)
    return TextToAudioPipeline(unet, codec, clap, p.scheduler, p.defaults, name=p.name)


# ---- save ---------------------------------------------------------------------------------
def save_pipeline(pipe: TextToAudioPipeline, directory: str | os.PathLike[str]) -> None:
    """Write ``pipe`` to ``directory`` atomically (a temporary sibling folder, then rename)."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        pipe.unet.save_pretrained(tmp / "unet")
        pipe.codec.vae.save_pretrained(tmp / "vae")
        if pipe.codec.vocoder is not None:  # a Griffin-Lim-only codec ships none
            pipe.codec.vocoder.save_pretrained(tmp / "vocoder")
        _save_scheduler(pipe.scheduler_config, tmp / "scheduler")
        if pipe.clap is not None:
            save_clap(pipe.clap, tmp)
        backend = pipe.clap.backend if pipe.clap is not None else None
        index: dict[str, Any] = {
            # diffusers' AudioLDMPipeline needs the vocoder; a Griffin-Lim-only folder is ours
            "_class_name": (
                "AudioLDMPipeline"
                if backend == "laion" and pipe.codec.vocoder is not None
                else "FoleyLDMPipeline"
            ),
            "_diffusers_version": diffusers.__version__,
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "scheduler": ["diffusers", "DDIMScheduler"],
        }
        if pipe.codec.vocoder is not None:
            index["vocoder"] = ["transformers", "SpeechT5HifiGan"]
        for sub in ("text_encoder", "tokenizer"):
            cls_name = _saved_class(tmp / sub)
            if cls_name:
                index[sub] = ["transformers", cls_name]
        (tmp / MODEL_INDEX).write_text(json.dumps(index, indent=2) + "\n")
        meta = {
            "format_version": FORMAT_VERSION,
            "name": pipe.name,
            "mel": pipe.codec.mel.to_dict(),
            "defaults": pipe.defaults,
            "clap_backend": backend,
            "vocoder": pipe.codec.vocoder_mode,
        }
        (tmp / FOLEY_CONFIG).write_text(json.dumps(meta, indent=2) + "\n")
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_scheduler(config: dict[str, Any], directory: Path) -> None:
    from diffusers import DDIMScheduler

    DDIMScheduler.from_config(config).save_pretrained(directory)


def _saved_class(directory: Path) -> str | None:
    """The transformers class a saved text encoder / tokenizer folder holds, if any."""
    if not directory.is_dir():
        return None
    for name, key in (
        ("config.json", "architectures"),
        ("tokenizer_config.json", "tokenizer_class"),
    ):
        f = directory / name
        if f.exists():
            value = json.loads(f.read_text()).get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if value:
                return str(value)
    return None


# ---- load ---------------------------------------------------------------------------------
def load_pipeline(
    name_or_path: str | os.PathLike[str],
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    attention_layout: AttentionLayout = "faithful",
) -> TextToAudioPipeline:
    """Load a model folder, a shipped model (``foley-small``), a released AudioLDM name, a
    preset (random weights) or a hub id.

    ``attention_layout``: "faithful" computes attention with the original network's head
    width (the function the released weights were trained as); "diffusers" uses the UNet
    config as saved (diffusers' AudioLDM repos: 8 heads everywhere) for bit parity with
    diffusers' ``AudioLDMPipeline``. See :mod:`foleyldm.models.unet`.

    Raises:
        ModelNotFoundError: one line naming the model and how to pass a local folder.
        CheckpointError: a folder whose components are missing or malformed.
    """
    key = str(name_or_path)
    if key in PRESETS and not Path(key).exists():
        pipe = build_pipeline(key)
    elif key in SHIPPED and not Path(key).exists():
        pipe = _load_folder(shipped_path(key), attention_layout)
    elif key in RELEASES and not Path(key).exists():
        pipe = _load_folder(resolve_release(key), attention_layout)
    else:
        pipe = _load_folder(_resolve_folder(key), attention_layout)
    return pipe.to(resolve_device(device), dtype)


def _resolve_folder(key: str) -> Path:
    path = Path(key).expanduser()
    if path.is_dir():
        return path
    if path.exists() or key.startswith((".", "/", "~")) or key.count("/") != 1:
        raise ModelNotFoundError(
            f"model {key!r} not found: not a model folder, a preset ({', '.join(PRESETS)}), "
            f"a released AudioLDM name ({', '.join(RELEASES)}) or a hub id (owner/name)"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=key))
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        local = key.split("/")[-1]
        raise ModelNotFoundError(
            f"could not fetch model {key!r} from the Hugging Face Hub ({reason}); download it "
            f"where there is network and pass the local folder, e.g. --model /path/to/{local}"
        ) from None


def _load_folder(root: Path, attention_layout: AttentionLayout = "faithful") -> TextToAudioPipeline:
    meta: dict[str, Any] = {}
    if (root / FOLEY_CONFIG).exists():
        meta = json.loads((root / FOLEY_CONFIG).read_text())
        if meta.get("format_version", 1) > FORMAT_VERSION:
            raise CheckpointError(
                f"{root} was written by a newer foleyldm (format {meta['format_version']})"
            )
    mode = meta.get("vocoder", "hifigan")
    if mode not in VOCODER_MODES:
        raise CheckpointError(f"{root}: unknown vocoder {mode!r} in {FOLEY_CONFIG}")
    present = {c for c in ("unet", "vae", "vocoder") if (root / c / "config.json").exists()}
    has_vocoder = "vocoder" in present
    # a folder whose vocoder is Griffin-Lim may leave the HiFi-GAN out
    needed = ("unet", "vae") if mode == "griffin-lim" else ("unet", "vae", "vocoder")
    missing = [c for c in needed if c not in present]
    if missing:
        raise CheckpointError(
            f"{root} is not a foleyldm/diffusers AudioLDM folder: missing {', '.join(missing)}"
        )
    mel = MelConfig.from_dict(meta["mel"]) if "mel" in meta else AUDIOLDM_16K
    try:
        unet = load_unet(root / "unet", attention_layout)
        vae = AutoencoderKL.from_pretrained(root / "vae")
        # float32 like the UNet and VAE (diffusers' default): transformers 5 loads the saved
        # dtype ("auto"), and a float16 HiFi-GAN on a CPU runs ~3x slower (issue 9's card)
        vocoder = (
            SpeechT5HifiGan.from_pretrained(root / "vocoder", dtype=torch.float32)
            if has_vocoder
            else None
        )
    except (OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"cannot load {root}: {str(e).splitlines()[0]}") from e
    clap = load_clap(root) if has_clap(root) else None
    sched_file = root / "scheduler" / "scheduler_config.json"
    scheduler = (
        json.loads(sched_file.read_text()) if sched_file.exists() else dict(AUDIOLDM_SCHEDULER)
    )
    codec = LatentCodec(vae, vocoder, mel)
    codec.vocoder_mode = mode
    return TextToAudioPipeline(
        unet, codec, clap, scheduler, meta.get("defaults"), name=meta.get("name") or root.name
    )
