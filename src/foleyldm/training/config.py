"""Training configuration: dataclasses, loaded from YAML or JSON, with dotted overrides.

One `Config` holds everything a run needs: the model to start from, the data, the loop
settings shared by every stage (`RunConfig`), and one section per stage (``clap``, ``vae``,
``vocoder``, ``ldm``), each with its own steps, batch size and optimiser. A file only names
what differs from the defaults; ``--set ldm.optim.lr=1e-4`` (or, for a single-stage run,
``--set optim.lr=1e-4``) overrides one field. Values are converted to each field's declared
type, so ``1e-4`` is a float even though YAML 1.1 reads it as a string.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from foleyldm.errors import FoleyError

STAGES: tuple[str, ...] = ("clap", "vae", "vocoder", "ldm")
MixedPrecision = Literal["no", "bf16", "fp16"]


class ConfigError(FoleyError, ValueError):
    """A config file or override that does not fit the config dataclasses."""


# ---- the dataclasses ------------------------------------------------------------------------
@dataclass
class OptimConfig:
    """AdamW and its learning-rate schedule (linear warm-up, then constant/cosine/exponential)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    #: Per-step decay of the "exponential" schedule.
    gamma: float = 1.0
    #: Floor of the "cosine" schedule, as a fraction of ``lr``.
    min_lr_ratio: float = 0.0
    #: Clip the global gradient norm to this (0 = no clipping).
    grad_clip: float = 0.0


@dataclass
class DataConfig:
    """Where clips come from (a JSONL manifest) and how they are read."""

    manifest: str | None = None
    train_split: str = "train"
    val_split: str = "valid"
    #: At most this many validation clips (fixed crops from the start of each clip).
    max_val_clips: int = 256
    num_workers: int = 0
    #: On-the-fly augmentation: mix in another clip ("A with B in the background") ...
    mix_probability: float = 0.0
    #: ... or splice one after it ("A followed by B"), with these probabilities.
    concat_probability: float = 0.0


@dataclass
class RunConfig:
    """Loop settings shared by every stage."""

    seed: int = 0
    mixed_precision: MixedPrecision = "no"
    #: Force the CPU even when a GPU is present.
    cpu: bool = False
    save_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    progress: bool = True
    tensorboard: bool = True


@dataclass
class StageConfig:
    """What every stage has: length, global batch, accumulation, crop length, optimiser."""

    steps: int = 1000
    #: Global batch per optimiser step (over all processes and accumulation steps).
    batch_size: int = 16
    grad_accum: int = 1
    #: Training crop length in seconds (random crops of each clip, zero-padded if shorter).
    segment_seconds: float = 2.56
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: Run the stage's validation every N steps (0 = only at the end).
    val_every: int = 0
    #: Write audio / spectrogram samples to TensorBoard every N steps (0 = never).
    sample_every: int = 0
    #: Repeat-factor sampling of the training split by category (0 = off): each clip of a
    #: category making up a fraction f of the clips appears round(sqrt(repeat_threshold / f))
    #: times, so categories under repeat_threshold / 2.25 get extra copies
    #: (`foleyldm.training.data.repeat_rare`).
    repeat_threshold: float = 0.0


@dataclass
class ClapStage(StageConfig):
    """Contrastive audio-text training of the dual-encoder CLAP (symmetric InfoNCE)."""

    #: Fine-tune the pretrained MiniLM text tower too (default: frozen, projections train).
    train_text: bool = False
    #: The CLAP's clip length (crop / repeat-pad), applied whenever a stage loads the model;
    #: None keeps the model's own. Short clips make a short window much cheaper.
    max_seconds: float | None = None
    recall_at: tuple[int, ...] = (1, 10)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, weight_decay=0.01))


@dataclass
class VAEStage(StageConfig):
    """KL-regularised mel autoencoder with an optional PatchGAN (two Adam optimisers)."""

    #: Mel frames per latent frame: 4, 8 or 16 (None keeps the model's VAE).
    compression: int | None = None
    #: Latent channels (None keeps the model's); more than the model has widens its trained
    #: VAE in place (`foleyldm.training.vae.widened_vae`), fewer is an error.
    latent_channels: int | None = None
    #: Weight of the mean-reduced KL term next to the mean-reduced L1 reconstruction.
    #: REFERENCE.md §5 quotes 1000 "with mean-reduced KL"; how the reference reduces its
    #: reconstruction term sets what that means here (unverified): a summed L1 over the
    #: 65 536 mel pixels of 10.24 s would make it ~0.015. Check before a long run.
    kl_weight: float = 1e-3
    #: Weight of the L1 between the reconstruction's and the input's differences along
    #: frequency and time (0: off). Plain L1 rewards drawing harmonic stripes as smooth
    #: bands; this term does not. foley-small's card: 800 decoder-only steps at 1.0 took
    #: the L1 over held-out barks' sound bins from 0.525 to 0.363 (not shipped: the model's
    #: dog probe did not move).
    detail_weight: float = 0.0
    disc_weight: float = 0.5
    #: Step from which the PatchGAN loss (with adaptive weight) is on.
    disc_start: int = 50_000
    disc_channels: int = 64
    disc_layers: int = 3
    #: False: fine-tune the decoder only (encoder and quant_conv frozen). The latent space,
    #: and so a UNet trained on it and its cached latents, stay valid; the export keeps the
    #: stored latent scale factor.
    train_encoder: bool = True
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, betas=(0.5, 0.9)))


@dataclass
class VocoderStage(StageConfig):
    """HiFi-GAN: mel L1 x45 + feature matching x2 + least-squares GAN (MPD + MSD)."""

    segment_seconds: float = 0.512
    mel_weight: float = 45.0
    fm_weight: float = 2.0
    #: Step from which the discriminators train and the GAN terms are on.
    gan_start: int = 0
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)
    msd_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)
    #: Scale discriminators: on the waveform, then on 2x, 4x, ... average-pooled copies.
    msd_scales: int = 3
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=2e-4, betas=(0.8, 0.99), weight_decay=0.01)
    )


@dataclass
class LDMStage(StageConfig):
    """The latent diffusion UNet, conditioned by CLAP embeddings (FiLM)."""

    prediction: Literal["epsilon", "v_prediction"] = "epsilon"
    #: "audio": the clip's own CLAP audio embedding (self-supervised); "text": a caption's
    #: CLAP text embedding; "mix": text with probability ``text_probability``.
    conditioning: Literal["audio", "text", "mix"] = "audio"
    text_probability: float = 0.5
    #: Fraction of conditions replaced by CLAP("") for classifier-free guidance.
    cond_dropout: float = 0.1
    ema_decay: float = 0.9999
    #: None: 1/std of the first batch's latents for a fresh UNet, the VAE's stored factor
    #: when fine-tuning a model folder; "auto" / "keep" force either; a number sets it.
    scale_factor: float | Literal["auto", "keep"] | None = None
    #: Encode each training clip once with the frozen VAE and CLAP and train on random
    #: latent crops (`foleyldm.training.latents`; no waveform mixing then).
    cache_latents: bool = False
    #: Where the cached encodings live (default: RUN/latent-cache); reused across runs.
    cache_dir: str | None = None
    #: Clips are encoded whole up to this many seconds (from the start).
    cache_max_seconds: float = 10.24
    #: With cached latents: the probability that a clip shorter than the segment is looped
    #: (its content repeated with a short random gap of its own silence latent, from a random
    #: phase) instead of padded with silence. Short one-shot clips otherwise train the model
    #: that most of a segment is silence.
    loop_probability: float = 0.0
    #: Longest silence between loop repeats, in seconds.
    loop_gap_seconds: float = 0.64
    #: Timesteps are drawn uniformly from [min_timestep, num_train_timesteps). Half the
    #: schedule (500) trains only the noisy half, where a clip's coarse layout is decided:
    #: foley-small's last phase (model card, release 5).
    min_timestep: int = 0
    val_prompts: tuple[str, ...] = ("a dog barking", "rain falling on a roof")
    val_seconds: float = 2.56
    val_steps: int = 25
    val_guidance: float = 2.5
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-4, warmup_steps=2000, weight_decay=0.01)
    )


@dataclass
class Config:
    """A whole training setup (every stage; a run uses one section or all of them)."""

    #: Preset the run starts from when ``init`` is None (library initialisation).
    preset: str = "small"
    #: A model folder, release name or preset to start from (fine-tuning).
    init: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)
    clap: ClapStage = field(default_factory=ClapStage)
    vae: VAEStage = field(default_factory=VAEStage)
    vocoder: VocoderStage = field(default_factory=VocoderStage)
    ldm: LDMStage = field(default_factory=LDMStage)

    def stage(self, name: str) -> StageConfig:
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
        section: StageConfig = getattr(self, name)
        return section

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


# ---- building from data ---------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively (what YAML and JSON write)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to the annotation ``tp`` (or ConfigError naming ``where``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        if isinstance(value, str) and value.lower() in ("null", "none") and type(None) in args:
            return None
        raise ConfigError(f"{where}: {value!r} fits none of {tp}")
    if origin is Literal:
        if isinstance(value, bool):  # YAML 1.1 reads an unquoted no/yes/off/on as a bool
            words = ("yes", "true", "on") if value else ("no", "false", "off")
            value = next((w for w in words if w in args), value)
        if value in args and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is tuple or origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(
                _coerce(v, a, f"{where}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            number = float(str(value).replace("_", ""))
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(number)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported config type {tp}")  # pragma: no cover


def from_dict(cls: type[Any], data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping; unknown keys are errors (typos never pass)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        name = where or cls.__name__
        raise ConfigError(f"{name}: unknown keys {unknown}; known: {sorted(fields)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def _parse_scalar(text: str) -> Any:
    """An override's value: YAML when it parses (lists, null, numbers), else the raw string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(
    data: dict[str, Any], overrides: list[str], stage: str | None = None
) -> dict[str, Any]:
    """Set ``a.b.c=value`` entries in the nested mapping ``data`` (a copy is returned).

    A path whose first part is not a top-level key is looked up in ``stage``'s section
    (``optim.lr`` -> ``ldm.optim.lr`` for an LDM run).
    """
    out = json.loads(json.dumps(data))
    top = {f.name for f in dataclasses.fields(Config)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. optim.lr=1e-4)")
        parts = key.split(".")
        if parts[0] not in top:
            if stage is None:
                raise ConfigError(f"override {key!r}: unknown section {parts[0]!r}")
            parts = [stage, *parts]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = _parse_scalar(raw)
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML (.yaml/.yml) or JSON config file as a mapping."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {p}: {e.strerror}") from None
    if p.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping")
    return data


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, stage: str | None = None
) -> Config:
    """Defaults <- file (YAML/JSON) <- ``--set`` overrides, type-checked."""
    data = read_config_file(path) if path is not None else {}
    data = apply_overrides(data, list(overrides or []), stage)
    config: Config = from_dict(Config, data)
    validate(config)
    return config


def save_config(config: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (every field, so a run documents itself)."""
    import yaml

    from foleyldm.fileutil import atomic_open

    text = yaml.safe_dump(config.to_dict(), sort_keys=False)
    with atomic_open(path) as fh:
        fh.write(text.encode())


def validate(config: Config) -> None:
    """Checks that do not need the model (those that do are made by each stage)."""
    for name in STAGES:
        s = config.stage(name)
        if s.steps < 0 or s.batch_size < 1 or s.grad_accum < 1:
            raise ConfigError(f"{name}: steps >= 0, batch_size >= 1 and grad_accum >= 1 needed")
        if s.batch_size % s.grad_accum:
            raise ConfigError(f"{name}: batch_size {s.batch_size} not divisible by grad_accum")
        if s.segment_seconds <= 0:
            raise ConfigError(f"{name}: segment_seconds must be positive")
        if s.repeat_threshold < 0:
            raise ConfigError(f"{name}: repeat_threshold must be >= 0 (0: every clip once)")
    if config.vae.compression not in (None, 4, 8, 16):
        raise ConfigError("vae.compression must be 4, 8 or 16")
    if config.run.save_every < 1 or config.run.log_every < 1:
        raise ConfigError("run.save_every and run.log_every must be >= 1")
    if not 0 <= config.ldm.cond_dropout < 1 or not 0 <= config.ldm.text_probability <= 1:
        raise ConfigError("ldm.cond_dropout must be in [0, 1) and text_probability in [0, 1]")
    if not 0 <= config.ldm.loop_probability <= 1 or config.ldm.loop_gap_seconds < 0:
        raise ConfigError("ldm.loop_probability must be in [0, 1] and loop_gap_seconds >= 0")
