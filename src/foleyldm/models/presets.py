"""Model presets as data: one config per component for each named size.

- ``tiny``: random weights, seconds on CPU; the test and smoke-test model.
- ``small``: the CPU-trainable size we train and ship as the default model.
- ``audioldm-s`` / ``audioldm-m`` / ``audioldm-l``: exactly the shapes of the released
  AudioLDM checkpoints (REFERENCE.md §2), here with random weights; official weights load
  into the same shapes.

The dicts are keyword arguments of the libraries' own classes (diffusers'
``UNet2DConditionModel`` / ``AutoencoderKL`` / ``DDIMScheduler``, transformers'
``SpeechT5HifiGanConfig``) so nothing here is a re-implementation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from foleyldm.audio.mel import AUDIOLDM_16K, MelConfig

#: The AudioLDM noise schedule (REFERENCE.md §2; diffusers' AudioLDM scheduler config).
AUDIOLDM_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0015,
    "beta_end": 0.0195,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}


def unet_config(
    block_out_channels: tuple[int, ...],
    layers_per_block: int,
    head_channels: int,
    attention_levels: tuple[bool, ...],
    sample_size: int,
    cond_dim: int = 512,
    latent_channels: int = 8,
) -> dict[str, Any]:
    """``UNet2DConditionModel`` kwargs of an AudioLDM-style UNet.

    FiLM conditioning: the CLAP embedding goes in as ``class_labels`` through a linear
    projection concatenated with the time embedding. The attention blocks attend to their own
    features (no text context), so ``cross_attention_dim`` equals each block's width.

    Heads follow the original network: a fixed head *width* (``head_channels``), i.e.
    ``channels // head_channels`` heads per level (REFERENCE.md §2, "faithful" layout).
    diffusers reads ``attention_head_dim`` as a head *count*, hence the per-level tuple.
    """
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention_levels)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention_levels))
    return {
        "sample_size": sample_size,
        "in_channels": latent_channels,
        "out_channels": latent_channels,
        "down_block_types": down,
        "up_block_types": up,
        "block_out_channels": block_out_channels,
        "layers_per_block": layers_per_block,
        "cross_attention_dim": block_out_channels,
        "attention_head_dim": tuple(max(1, c // head_channels) for c in block_out_channels),
        "class_embed_type": "simple_projection",
        "projection_class_embeddings_input_dim": cond_dim,
        "class_embeddings_concat": True,
    }


def vae_config(
    block_out_channels: tuple[int, ...],
    layers_per_block: int = 2,
    latent_channels: int = 8,
    scaling_factor: float = 1.0,
    sample_size: int = 512,
) -> dict[str, Any]:
    """``AutoencoderKL`` kwargs of a mel VAE: 1 channel in and out, 2^(levels-1) compression."""
    n = len(block_out_channels)
    return {
        "in_channels": 1,
        "out_channels": 1,
        "down_block_types": ("DownEncoderBlock2D",) * n,
        "up_block_types": ("UpDecoderBlock2D",) * n,
        "block_out_channels": block_out_channels,
        "layers_per_block": layers_per_block,
        "latent_channels": latent_channels,
        "sample_size": sample_size,
        "scaling_factor": scaling_factor,
    }


def hifigan_config(
    initial_channel: int, n_mels: int = 64, sample_rate: int = 16000
) -> dict[str, Any]:
    """``SpeechT5HifiGanConfig`` kwargs of the AudioLDM 16 kHz HiFi-GAN (hop 160 = 5·4·2·2·2)."""
    return {
        "model_in_dim": n_mels,
        "sampling_rate": sample_rate,
        "upsample_initial_channel": initial_channel,
        "upsample_rates": [5, 4, 2, 2, 2],
        "upsample_kernel_sizes": [16, 16, 8, 4, 4],
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "leaky_relu_slope": 0.1,
        "normalize_before": False,
    }


@dataclass(frozen=True)
class Preset:
    """Every component's config for one named model size."""

    name: str
    description: str
    unet: dict[str, Any]
    vae: dict[str, Any]
    vocoder: dict[str, Any]
    clap: dict[str, Any]
    mel: MelConfig = AUDIOLDM_16K
    scheduler: dict[str, Any] = field(default_factory=lambda: dict(AUDIOLDM_SCHEDULER))
    #: Pipeline defaults (duration, steps, guidance, sampler, eta) shown by ``--help``.
    defaults: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Preset:
        return dataclasses.replace(self, **changes)


_ALL_ATTN_BUT_FIRST = (False, True, True, True)

# The LAION CLAP towers used by the released checkpoints (transformers config kwargs are
# looked up in foleyldm.models.clap.laion, which owns them).
_LAION_S = {"backend": "laion", "text": "roberta-base", "audio": "htsat-tiny"}
_LAION_M = {"backend": "laion", "text": "roberta-base", "audio": "htsat-base"}

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        description="random weights, seconds on CPU: for tests and smoke runs (outputs noise)",
        # Mirrors the original-code reference model of REFERENCE.md §8 (2, 2, 2, 4 heads).
        unet=unet_config((32, 32, 32, 64), 1, 16, _ALL_ATTN_BUT_FIRST, sample_size=32),
        vae=vae_config((32, 32, 64), scaling_factor=0.85, sample_size=128),
        vocoder=hifigan_config(32),
        clap={
            "backend": "dual",
            "audio_channels": (16, 32, 64),
            "embed_dim": 512,
        },
        defaults={"audio_length_in_s": 2.56, "num_inference_steps": 10, "guidance_scale": 2.5},
    ),
    "small": Preset(
        name="small",
        description="the CPU-trainable default size (foley-small)",
        unet=unet_config((64, 128, 192, 256), 1, 32, _ALL_ATTN_BUT_FIRST, sample_size=128),
        vae=vae_config((32, 64, 128), sample_size=512),
        vocoder=hifigan_config(128),
        clap={
            "backend": "dual",
            "audio_channels": (32, 64, 128, 256),
            "embed_dim": 512,
        },
        defaults={"audio_length_in_s": 5.12, "num_inference_steps": 50, "guidance_scale": 2.5},
    ),
    "audioldm-s": Preset(
        name="audioldm-s",
        description="AudioLDM-S shapes (185 M UNet), random weights",
        unet=unet_config((128, 256, 384, 640), 2, 32, _ALL_ATTN_BUT_FIRST, sample_size=128),
        vae=vae_config((128, 256, 512), scaling_factor=0.9392935633659363),
        vocoder=hifigan_config(1024),
        clap=_LAION_S,
        defaults={"audio_length_in_s": 5.12, "num_inference_steps": 200, "guidance_scale": 2.5},
    ),
    "audioldm-m": Preset(
        name="audioldm-m",
        description="AudioLDM-M shapes (416 M UNet), random weights",
        unet=unet_config((192, 384, 576, 960), 2, 32, _ALL_ATTN_BUT_FIRST, sample_size=128),
        vae=vae_config((128, 256, 512), scaling_factor=0.9138255715370178),
        vocoder=hifigan_config(1024),
        clap=_LAION_M,
        defaults={"audio_length_in_s": 5.12, "num_inference_steps": 200, "guidance_scale": 2.5},
    ),
    "audioldm-l": Preset(
        name="audioldm-l",
        description="AudioLDM-L shapes (739 M UNet), random weights",
        unet=unet_config((256, 512, 768, 1280), 2, 64, _ALL_ATTN_BUT_FIRST, sample_size=128),
        vae=vae_config((128, 256, 512), scaling_factor=0.9654927849769592),
        vocoder=hifigan_config(1024),
        clap=_LAION_S,
        defaults={"audio_length_in_s": 5.12, "num_inference_steps": 200, "guidance_scale": 2.5},
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
