"""What an original AudioLDM checkpoint is: component configs, read from its config, a release
name, or the tensor shapes themselves.

The result (:class:`OriginalLayout`) holds diffusers / transformers config dicts built with
:mod:`foleyldm.models.presets`, so a converted model is the same class, with the same
attention-head layout, as the presets: ``channels // num_head_channels`` heads per level,
the function the original network computes (REFERENCE.md §2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from foleyldm.audio.mel import AUDIOLDM_16K, MelConfig
from foleyldm.errors import CheckpointError
from foleyldm.models.presets import (
    AUDIOLDM_SCHEDULER,
    PRESETS,
    hifigan_config,
    unet_config,
    vae_config,
)

VARIANTS = ("s", "m", "l")


@dataclass(frozen=True)
class OriginalLayout:
    """Everything needed to rebuild an original checkpoint's models in diffusers/transformers."""

    unet: dict[str, Any]  #: ``UNet2DConditionModel`` kwargs (per-level head counts)
    vae: dict[str, Any]  #: ``AutoencoderKL`` kwargs (``scaling_factor`` = ``scale_factor``)
    vocoder: dict[str, Any]  #: ``SpeechT5HifiGanConfig`` kwargs
    scheduler: dict[str, Any] = field(default_factory=lambda: dict(AUDIOLDM_SCHEDULER))
    scale_factor: float = 1.0
    #: Channels per attention head (None when the original fixes the head *count* instead).
    head_channels: int | None = 32
    mel: MelConfig = AUDIOLDM_16K
    #: Where the layout came from: ``"config"``, ``"variant s"``, ... or ``"shapes"``.
    source: str = "config"
    #: Pipeline defaults to store with the converted model (a release's preset defaults).
    defaults: dict[str, Any] = field(default_factory=dict)


def layout_from_variant(variant: str, scale_factor: float | None = None) -> OriginalLayout:
    """A released model size: ``"s"``, ``"m"`` or ``"l"`` (``audioldm-`` prefix optional)."""
    v = variant.lower().removeprefix("audioldm-")
    if v not in VARIANTS:
        raise CheckpointError(f"unknown AudioLDM variant {variant!r}; choose one of s, m, l")
    p = PRESETS[f"audioldm-{v}"]
    scale = p.vae["scaling_factor"] if scale_factor is None else scale_factor
    return OriginalLayout(
        unet=dict(p.unet),
        vae={**p.vae, "scaling_factor": scale},
        vocoder=dict(p.vocoder),
        scheduler=dict(p.scheduler),
        scale_factor=scale,
        head_channels=64 if v == "l" else 32,
        mel=p.mel,
        source=f"variant {v}",
        defaults=dict(p.defaults),
    )


def layout_from_original_config(
    cfg: Mapping[str, Any], scale_factor: float | None = None
) -> OriginalLayout:
    """Translate the original code's config (``default_audioldm_config()`` structure)."""
    try:
        params = cfg["model"]["params"]
        u = params["unet_config"]["params"]
        first = params["first_stage_config"]["params"]
        dd = first["ddconfig"]
    except (KeyError, TypeError) as e:
        raise CheckpointError(
            f"original config lacks {e}: expected model.params.unet_config.params and "
            "model.params.first_stage_config.params.ddconfig"
        ) from None
    unsupported = []
    if u.get("context_dim") is not None:
        unsupported.append("UNet cross-attention to a text context (context_dim)")
    if not u.get("use_spatial_transformer", False):
        unsupported.append("UNet without spatial transformers")
    if "extra_film_condition_dim" not in u:
        unsupported.append("UNet without FiLM conditioning (extra_film_condition_dim)")
    if dd.get("attn_resolutions"):
        unsupported.append("VAE attention outside the middle block (attn_resolutions)")
    if not dd.get("double_z", True) or first.get("embed_dim", dd["z_channels"]) != dd["z_channels"]:
        unsupported.append("VAE with embed_dim != z_channels or double_z false")
    if first.get("subband", 1) != 1 or first.get("time_shuffle", 1) != 1:
        unsupported.append("VAE subband / time_shuffle")
    if params.get("parameterization", "eps") != "eps":
        unsupported.append(f"{params['parameterization']!r} parameterization")
    if params.get("beta_schedule", "linear") != "linear":
        unsupported.append(f"{params['beta_schedule']!r} noise schedule")
    hifi = cfg.get("hifigan")
    if hifi is not None and str(hifi.get("resblock", "1")) != "1":
        unsupported.append("HiFi-GAN resblock type 2")
    if unsupported:
        raise CheckpointError("unsupported original model: " + "; ".join(unsupported))

    base = int(u["model_channels"])
    channels = tuple(base * int(m) for m in u["channel_mult"])
    levels = tuple(2**i in set(u.get("attention_resolutions", ())) for i in range(len(channels)))
    head_ch = int(u.get("num_head_channels", -1))
    unet = unet_config(
        channels,
        int(u["num_res_blocks"]),
        head_ch if head_ch > 0 else 1,
        levels,
        sample_size=int(params.get("latent_t_size", 128)),
        cond_dim=int(u["extra_film_condition_dim"]),
    )
    unet.update(in_channels=int(u["in_channels"]), out_channels=int(u["out_channels"]))
    unet["class_embeddings_concat"] = bool(u.get("extra_film_use_concat", False))
    if head_ch <= 0:  # the original then fixes the head count instead of the width
        unet["attention_head_dim"] = (int(u["num_heads"]),) * len(channels)
    if int(u.get("transformer_depth", 1)) != 1:
        unet["transformer_layers_per_block"] = int(u["transformer_depth"])

    scale = float(params.get("scale_factor", 1.0)) if scale_factor is None else scale_factor
    vae = vae_config(
        tuple(int(dd["ch"]) * int(m) for m in dd["ch_mult"]),
        int(dd["num_res_blocks"]),
        int(dd["z_channels"]),
        scale,
        sample_size=int(dd.get("resolution", 512)),
    )
    vae.update(in_channels=int(dd["in_channels"]), out_channels=int(dd["out_ch"]))

    mel = _mel_from_preprocessing(cfg.get("preprocessing"))
    # Without a ``hifigan`` entry the original builds its module constant HIFIGAN_16K_64.
    vocoder = hifigan_config(1024, n_mels=mel.n_mels, sample_rate=mel.sample_rate)
    if hifi is not None:
        vocoder.update(
            model_in_dim=int(hifi["num_mels"]),
            sampling_rate=int(hifi["sampling_rate"]),
            upsample_initial_channel=int(hifi["upsample_initial_channel"]),
            upsample_rates=[int(r) for r in hifi["upsample_rates"]],
            upsample_kernel_sizes=[int(k) for k in hifi["upsample_kernel_sizes"]],
            resblock_kernel_sizes=[int(k) for k in hifi["resblock_kernel_sizes"]],
            resblock_dilation_sizes=[
                [int(d) for d in ds] for ds in hifi["resblock_dilation_sizes"]
            ],
        )
    scheduler = {
        **AUDIOLDM_SCHEDULER,
        "num_train_timesteps": int(params.get("timesteps", 1000)),
        "beta_start": float(params.get("linear_start", 0.0015)),
        "beta_end": float(params.get("linear_end", 0.0195)),
    }
    return OriginalLayout(
        unet=unet,
        vae=vae,
        vocoder=vocoder,
        scheduler=scheduler,
        scale_factor=scale,
        head_channels=head_ch if head_ch > 0 else None,
        mel=mel,
        source="config",
    )


def _mel_from_preprocessing(pre: Mapping[str, Any] | None) -> MelConfig:
    """The inference-path mel front end of the original ``preprocessing`` section."""
    if not pre:
        return AUDIOLDM_16K
    stft, mel, audio = pre.get("stft", {}), pre.get("mel", {}), pre.get("audio", {})
    fmax = mel.get("mel_fmax", AUDIOLDM_16K.fmax)
    return MelConfig(
        sample_rate=int(audio.get("sampling_rate", AUDIOLDM_16K.sample_rate)),
        n_fft=int(stft.get("filter_length", AUDIOLDM_16K.n_fft)),
        hop_length=int(stft.get("hop_length", AUDIOLDM_16K.hop_length)),
        win_length=int(stft.get("win_length", AUDIOLDM_16K.win_length)),
        n_mels=int(mel.get("n_mel_channels", AUDIOLDM_16K.n_mels)),
        fmin=float(mel.get("mel_fmin", AUDIOLDM_16K.fmin)),
        fmax=None if fmax is None else float(fmax),
        padding="center",  # TacotronSTFT, the original inference path
    )


def read_original_config(config: Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    """A config mapping as is, or the JSON / YAML file it names."""
    if isinstance(config, Mapping):
        return config
    path = Path(config)
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise CheckpointError(
                f"{path}: reading YAML needs PyYAML (pip install 'foleyldm[train]'), "
                "or pass the config as JSON"
            ) from None
        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, Mapping):
        raise CheckpointError(f"{path}: not a config mapping")
    return loaded


def schedule_mismatch(
    state: Mapping[str, torch.Tensor], scheduler: Mapping[str, Any]
) -> str | None:
    """Why the checkpoint's ``betas`` buffer contradicts ``scheduler``, or None if it agrees."""
    betas = state.get("betas")
    if betas is None:
        return None
    n = int(scheduler["num_train_timesteps"])
    expected = (
        torch.linspace(
            float(scheduler["beta_start"]) ** 0.5,
            float(scheduler["beta_end"]) ** 0.5,
            n,
            dtype=torch.float64,
        )
        ** 2
    )
    if betas.shape != expected.shape:
        return f"the checkpoint has {betas.numel()} diffusion steps, the config {n}"
    err = float((betas.double() - expected).abs().max())
    if err > 1e-6:
        return f"the checkpoint's betas differ from the config's schedule by up to {err:.3g}"
    return None
