"""Original AudioLDM checkpoints (``.ckpt``) -> a foleyldm / diffusers model folder, and back.

Conversion is strict: every tensor of the checkpoint is either converted or on an explicit
ignore list (diffusion buffers, the UNet copy not chosen, LitEma's bookkeeping), every
parameter of the new models is filled, and every shape must match; anything else is a
:class:`~foleyldm.errors.CheckpointError` naming the keys. (The original code loads with
``strict=False`` in places, which hides exactly these mistakes.)

Memory: tensors stay memory-mapped from the file and are *assigned* into models built on the
meta device, so the weights exist once, and only the chosen UNet copy is ever read.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch import nn
from transformers import SpeechT5HifiGan

from foleyldm.audio.mel import AUDIOLDM_16K, MelConfig
from foleyldm.errors import CheckpointError
from foleyldm.models.convert.clap_hook import CLAP_PREFIX, convert_clap
from foleyldm.models.convert.keymap import KeyMap, format_keys
from foleyldm.models.convert.layout import (
    OriginalLayout,
    layout_from_original_config,
    layout_from_variant,
    read_original_config,
    schedule_mismatch,
)
from foleyldm.models.convert.shapes import (
    VAE_PREFIX,
    VOCODER_PREFIX,
    check_shapes,
    empty_models,
    infer_from_shapes,
    original_names,
)
from foleyldm.models.convert.unet_keys import (
    EMA_PREFIX,
    UNET_PREFIX,
    ema_key,
    select_unet_weights,
    unet_diffusers_to_original,
)
from foleyldm.models.convert.vae_keys import vae_diffusers_to_original
from foleyldm.models.convert.vocoder_keys import NORM_BUFFERS, vocoder_hf_to_original
from foleyldm.models.presets import AUDIOLDM_SCHEDULER

__all__ = [
    "DIFFUSION_BUFFERS",
    "OriginalLayout",
    "convert_original_checkpoint",
    "convert_original_state_dict",
    "diffusion_buffers",
    "infer_original_config",
    "load_original_state_dict",
    "original_state_dict_from_pipeline",
    "write_components",
]

#: ``DDPM.register_schedule``'s buffers and the DDPM's ``logvar``: recomputed by the scheduler.
DIFFUSION_BUFFERS = (
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
    "lvlb_weights",
    "logvar",
)
_TORCH_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")

_M = TypeVar("_M", bound=nn.Module)
Converted = tuple[UNet2DConditionModel, AutoencoderKL, SpeechT5HifiGan, Any, OriginalLayout]


# ---- reading ------------------------------------------------------------------------------
def load_original_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The flat state dict of an original checkpoint, memory-mapped where the format allows.

    ``.ckpt``/``.pt``/``.bin``: ``torch.load(weights_only=True, mmap=True)``, unwrapping a
    Lightning ``{"state_dict": ...}``; a pickle that needs code to load is refused, never run.
    ``.safetensors``: read with safetensors.

    Raises:
        CheckpointError: unreadable, not a plain weights file, or no tensors in it.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(p)
        except Exception as e:
            raise CheckpointError(f"{p}: not a readable safetensors file ({e})") from None
    else:
        try:
            state = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
        except pickle.UnpicklingError as e:
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else "unsupported object"
            raise CheckpointError(
                f"{p} is not a plain weights checkpoint: loading it would run code from the "
                f"file, which foleyldm never does ({reason[:160]})"
            ) from None
        except (RuntimeError, OSError, EOFError, ValueError) as e:
            hint = "" if p.suffix in _TORCH_SUFFIXES else " (expected .ckpt or .safetensors)"
            raise CheckpointError(f"{p}: cannot read it as a checkpoint{hint}: {e}") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{p}: holds a {type(state).__name__}, not a state dict")
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{p}: no tensors in the checkpoint")
    return tensors


def infer_original_config(
    state: Mapping[str, torch.Tensor],
    variant: str | None = None,
    original_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> OriginalLayout:
    """The layout of an original checkpoint.

    Preference: ``original_config`` (the original config as a dict or a JSON/YAML file:
    ``model.params.unet_config.params`` etc. plus a top-level ``hifigan``), then ``variant``
    (``"s"``, ``"m"``, ``"l"``: the released shapes), then the tensor shapes. A given config
    or variant is checked against the tensor shapes. ``scale_factor`` comes from the
    checkpoint's buffer when it has one.

    Raises:
        CheckpointError: an unsupported or inconsistent configuration.
    """
    buffer = state.get("scale_factor")
    scale = float(buffer) if buffer is not None else None
    if original_config is not None:
        layout = layout_from_original_config(read_original_config(original_config), scale)
    elif variant is not None:
        layout = layout_from_variant(variant, scale)
    else:
        return infer_from_shapes(state, scale)
    check_shapes(state, layout)
    return layout


# ---- original -> diffusers ----------------------------------------------------------------
def convert_original_state_dict(
    state: Mapping[str, torch.Tensor],
    variant: str | None = None,
    original_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ema: bool = True,
    dtype: torch.dtype = torch.float32,
    clap_tokenizer: str | os.PathLike[str] | None = None,
    skip_clap: bool = False,
) -> Converted:
    """Build (unet, vae, vocoder, clap or None, layout) from an original state dict.

    The models hold the checkpoint's tensors themselves (assigned, not copied, when ``dtype``
    is theirs). ``skip_clap`` drops a CLAP in the checkpoint deliberately.
    """
    layout = infer_original_config(state, variant, original_config)
    if (why := schedule_mismatch(state, layout.scheduler)) is not None:
        raise CheckpointError(f"{why}: pass the checkpoint's original config")

    (ukm, _), (vkm, _), (hkm, _) = original_names(layout)
    unet_state, used, ignored = select_unet_weights(state, layout.unet, ema)
    vae_state, vae_used = _take(state, vkm, VAE_PREFIX)
    voc_state, voc_used = _take(state, hkm, VOCODER_PREFIX)
    clap, clap_used, clap_ignored, clap_note = convert_clap(state, clap_tokenizer, skip_clap)
    ignored |= {k for k in state if k in DIFFUSION_BUFFERS or k == "scale_factor"}
    unused = set(state) - used - ignored - vae_used - voc_used - clap_used - clap_ignored
    if unused:
        note = (
            f" ({clap_note})"
            if clap_note and any(k.startswith(CLAP_PREFIX) for k in unused)
            else ""
        )
        raise CheckpointError(f"unconverted weights in the checkpoint: {format_keys(unused)}{note}")

    empty_unet, empty_vae, empty_voc = empty_models(layout)
    copy = (lambda n: ema_key(UNET_PREFIX + n)) if ema else (lambda n: UNET_PREFIX + n)
    unet = _assign(empty_unet, ukm.to_new_layout(unet_state), ukm, copy, dtype)
    vae = _assign(empty_vae, vkm.to_new_layout(vae_state), vkm, lambda n: VAE_PREFIX + n, dtype)
    voc_new = hkm.to_new_layout(voc_state)
    n_mels = int(layout.vocoder["model_in_dim"])
    voc_new.update(mean=torch.zeros(n_mels), scale=torch.ones(n_mels))
    vocoder = _assign(empty_voc, voc_new, hkm, lambda n: VOCODER_PREFIX + n, dtype)
    return unet, vae, vocoder, clap, layout


def _take(
    state: Mapping[str, torch.Tensor], km: KeyMap, prefix: str
) -> tuple[dict[str, torch.Tensor], set[str]]:
    """The component's tensors (names below ``prefix``); missing ones are an error."""
    missing = [prefix + k for k in km.to_new if prefix + k not in state]
    if missing:
        raise CheckpointError(f"the checkpoint's {km.what} is missing {format_keys(missing)}")
    return {k: state[prefix + k] for k in km.to_new}, {prefix + k for k in km.to_new}


def _assign(
    model: _M,
    state: dict[str, torch.Tensor],
    km: KeyMap,
    source: Callable[[str], str],
    dtype: torch.dtype,
) -> _M:
    """Load ``state`` into a meta-device ``model`` by assignment, checking names and shapes.

    ``source`` gives the checkpoint key of an original-layout name, for the error messages.
    """
    expected = model.state_dict()
    bad = [
        f"{source(km.to_old.get(k, k))} {list(state[k].shape)} (expected {list(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if bad:
        raise CheckpointError(f"{km.what} shapes do not match: {format_keys(bad, limit=5)}")
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:  # unreachable with a correct key map: a guard, not a feature
        raise CheckpointError(
            f"{km.what} key map out of date: missing {format_keys(missing)}, "
            f"unexpected {format_keys(unexpected)}"
        )
    cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(cast, strict=True, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(f"{km.what}: tensors left unfilled: {format_keys(left)}")
    return model.eval().requires_grad_(False)


def convert_original_checkpoint(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    variant: str | None = None,
    original_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ema: bool = True,
    dtype: torch.dtype = torch.float32,
    *,
    clap_tokenizer: str | os.PathLike[str] | None = None,
    skip_clap: bool = False,
    name: str | None = None,
) -> Path:
    """Convert an original AudioLDM checkpoint into a model folder; returns ``out_dir``.

    Args:
        variant: ``"s"``, ``"m"`` or ``"l"`` when there is no original config.
        original_config: the original config (dict, or JSON/YAML file).
        ema: take the EMA UNet weights (the ones to sample with) rather than the online ones.
        clap_tokenizer: a RoBERTa tokenizer folder for a checkpoint that holds a CLAP.
        skip_clap: convert without the checkpoint's CLAP (generate with prompt embeddings).

    Raises:
        CheckpointError: see the module docstring.
    """
    state = load_original_state_dict(path)
    unet, vae, vocoder, clap, layout = convert_original_state_dict(
        state, variant, original_config, ema, dtype, clap_tokenizer, skip_clap
    )
    out = Path(out_dir)
    write_components(
        out,
        unet,
        vae,
        vocoder,
        layout.scheduler,
        clap=clap,
        mel=layout.mel,
        name=name or out.name,
        defaults=layout.defaults,
    )
    return out


def write_components(
    out_dir: str | os.PathLike[str],
    unet: UNet2DConditionModel,
    vae: AutoencoderKL,
    vocoder: SpeechT5HifiGan,
    scheduler_config: Mapping[str, Any],
    clap: Any = None,
    mel: MelConfig = AUDIOLDM_16K,
    name: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder (``unet/ vae/ vocoder/ scheduler/``, ``model_index.json``,
    ``foleyldm.json`` and the CLAP if given) through :func:`save_pipeline`, atomically."""
    from foleyldm.models.codec import LatentCodec
    from foleyldm.pipelines.loading import save_pipeline
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

    codec = LatentCodec(vae, vocoder, mel)
    pipe = TextToAudioPipeline(
        unet, codec, clap, dict(scheduler_config), dict(defaults or {}), name
    )
    save_pipeline(pipe, out_dir)
    return Path(out_dir)


# ---- diffusers -> original ----------------------------------------------------------------
def diffusion_buffers(scheduler: Mapping[str, Any] = AUDIOLDM_SCHEDULER) -> dict[str, torch.Tensor]:
    """The original DDPM's schedule buffers and ``logvar``, computed as ``register_schedule``
    does (float64, stored as float32), for ``scaled_linear`` schedules."""
    n = int(scheduler["num_train_timesteps"])
    lo, hi = float(scheduler["beta_start"]), float(scheduler["beta_end"])
    betas = (torch.linspace(lo**0.5, hi**0.5, n, dtype=torch.float64) ** 2).numpy()
    alphas = 1.0 - betas
    ac = np.cumprod(alphas, axis=0)
    ac_prev = np.append(1.0, ac[:-1])
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    values = {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": np.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": np.log(1.0 - ac),
        "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / ac - 1),
        "posterior_variance": post_var,
        "posterior_log_variance_clipped": np.log(np.maximum(post_var, 1e-20)),
        "posterior_mean_coef1": betas * np.sqrt(ac_prev) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac),
        "logvar": np.zeros(n),
    }
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in values.items()}


def original_state_dict_from_pipeline(
    unet: UNet2DConditionModel,
    vae: AutoencoderKL,
    vocoder: SpeechT5HifiGan,
    scale_factor: float,
    ema: bool = True,
    *,
    ema_unet: UNet2DConditionModel | None = None,
    scheduler_config: Mapping[str, Any] = AUDIOLDM_SCHEDULER,
) -> dict[str, torch.Tensor]:
    """Our models in the original ``LatentDiffusion.state_dict()`` layout (no CLAP).

    With ``ema`` the ``model_ema.*`` copy is added: ``ema_unet``'s weights, or copies of
    ``unet``'s. Diffusion buffers and ``scale_factor`` are included, so the result has the
    published key set. For tests, test checkpoints and export to the original code.
    """
    out = diffusion_buffers(scheduler_config)
    out["scale_factor"] = torch.tensor(float(scale_factor), dtype=torch.float32)
    online = unet_diffusers_to_original(unet.state_dict(), unet.config)
    out.update({UNET_PREFIX + k: v for k, v in online.items()})
    if ema:
        shadow = (
            {k: v.clone() for k, v in online.items()}
            if ema_unet is None
            else unet_diffusers_to_original(ema_unet.state_dict(), ema_unet.config)
        )
        out.update({ema_key(UNET_PREFIX + k): v for k, v in shadow.items()})
        out[EMA_PREFIX + "decay"] = torch.tensor(0.9999, dtype=torch.float32)
        out[EMA_PREFIX + "num_updates"] = torch.tensor(0, dtype=torch.int32)
    vae_state = vae_diffusers_to_original(vae.state_dict(), vae.config)
    out.update({VAE_PREFIX + k: v for k, v in vae_state.items()})
    voc = {k: v for k, v in vocoder.state_dict().items() if k not in NORM_BUFFERS}
    voc_state = vocoder_hf_to_original(voc, vocoder.config.to_dict())
    out.update({VOCODER_PREFIX + k: v for k, v in voc_state.items()})
    return out
