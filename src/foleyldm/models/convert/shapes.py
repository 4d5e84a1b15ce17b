"""Tensor shapes of an original checkpoint: the layout they imply, and agreement with a layout.

Shapes fix almost everything (channels, levels, blocks per level, where attention sits, the
FiLM width). Two things they cannot show: the attention head width (heads reshape nothing)
and HiFi-GAN's strides. For those we take the released models' values (32-channel heads,
64 for the 256-channel AudioLDM-L; strides 5, 4, 2, 2, 2) and refuse anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from foleyldm.errors import CheckpointError
from foleyldm.models.convert.keymap import KeyMap, format_keys
from foleyldm.models.convert.layout import OriginalLayout
from foleyldm.models.convert.unet_keys import UNET_PREFIX, ema_key, unet_key_map
from foleyldm.models.convert.vae_keys import vae_key_map
from foleyldm.models.convert.vocoder_keys import NORM_BUFFERS, vocoder_key_map
from foleyldm.models.presets import AUDIOLDM_SCHEDULER, hifigan_config, unet_config, vae_config

VAE_PREFIX = "first_stage_model."
VOCODER_PREFIX = "first_stage_model.vocoder."

#: Head width of each released UNet, by base channels (REFERENCE.md §2).
RELEASE_HEAD_CHANNELS = {128: 32, 192: 32, 256: 64}
_HIFIGAN_STRIDES = {(16, 16, 8, 4, 4): [5, 4, 2, 2, 2]}


def empty_models(
    layout: OriginalLayout,
) -> tuple[UNet2DConditionModel, AutoencoderKL, SpeechT5HifiGan]:
    """The three models of ``layout`` on the meta device (shapes only, no memory)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**layout.unet)
        vae = AutoencoderKL(**layout.vae)
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**layout.vocoder))
    return unet, vae, vocoder


def original_names(layout: OriginalLayout) -> list[tuple[KeyMap, Callable[[str], list[str]]]]:
    """Per component: its key map and new name -> the original key(s) that can hold it."""

    def unet(n: str) -> list[str]:
        return [UNET_PREFIX + n, ema_key(UNET_PREFIX + n)]

    return [
        (unet_key_map(layout.unet), unet),
        (vae_key_map(layout.vae), lambda n: [VAE_PREFIX + n]),
        (vocoder_key_map(layout.vocoder), lambda n: [VOCODER_PREFIX + n]),
    ]


def check_shapes(state: Mapping[str, torch.Tensor], layout: OriginalLayout) -> None:
    """Raise CheckpointError naming every checkpoint tensor whose shape ``layout`` contradicts.

    Only shapes are compared here; missing and unexpected keys are the converter's business.
    """
    bad = []
    for model, (km, sources) in zip(empty_models(layout), original_names(layout), strict=True):
        for new, t in model.state_dict().items():
            if new in NORM_BUFFERS and new not in km.to_old:
                continue
            old = km.to_old[new]
            want = list(t.shape)
            if new in km.conv1x1:
                want = [*want, 1, 1]
            for key in sources(old):
                if key in state and list(state[key].shape) != want:
                    bad.append(f"{key} {list(state[key].shape)} (expected {want})")
    if bad:
        raise CheckpointError(
            f"the checkpoint's shapes do not match the {layout.source} layout: "
            f"{format_keys(bad, limit=5)}"
        )


def infer_from_shapes(
    state: Mapping[str, torch.Tensor], scale_factor: float | None
) -> OriginalLayout:
    """The layout implied by the tensor shapes (online UNet copy needed: EMA names lose dots)."""
    try:
        unet = _unet_from_shapes(_strip(state, UNET_PREFIX))
        vae = _vae_from_shapes(_strip(state, VAE_PREFIX), scale_factor)
        vocoder = _vocoder_from_shapes(_strip(state, VOCODER_PREFIX))
    except KeyError as e:
        raise CheckpointError(
            f"cannot infer the model layout from the tensor shapes ({e.args[0]} not found): "
            "pass variant ('s', 'm', 'l') or the original config"
        ) from None
    head = RELEASE_HEAD_CHANNELS[int(unet["block_out_channels"][0])]
    return OriginalLayout(
        unet=unet,
        vae=vae,
        vocoder=vocoder,
        scheduler=dict(AUDIOLDM_SCHEDULER),
        scale_factor=float(vae["scaling_factor"]),
        head_channels=head,
        source="shapes",
    )


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Size]:
    return {k[len(prefix) :]: v.shape for k, v in state.items() if k.startswith(prefix)}


def _indices(shapes: Mapping[str, Any], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in shapes if (m := rx.match(k))})


def _unet_from_shapes(s: Mapping[str, torch.Size]) -> dict[str, Any]:
    base, latent = s["input_blocks.0.0.weight"][:2]
    if int(base) not in RELEASE_HEAD_CHANNELS:
        raise CheckpointError(
            f"a UNet with {base} base channels is not a released AudioLDM size, so its "
            "attention head width is unknown: pass the original config"
        )
    levels: list[list[int]] = [[]]
    for k in _indices(s, r"input_blocks\.(\d+)\.")[1:]:
        if f"input_blocks.{k}.0.op.weight" in s:
            levels.append([])
        else:
            levels[-1].append(k)
    per_block = {len(level) for level in levels}
    if len(per_block) != 1:
        raise CheckpointError("levels with different numbers of ResBlocks are not supported")
    channels = tuple(int(s[f"input_blocks.{lv[0]}.0.in_layers.2.weight"][0]) for lv in levels)
    attention = tuple(f"input_blocks.{lv[0]}.1.norm.weight" in s for lv in levels)
    depth = len(_indices(s, r"middle_block\.1\.transformer_blocks\.(\d+)\."))
    head = RELEASE_HEAD_CHANNELS[int(base)]
    cfg = unet_config(
        channels, per_block.pop(), head, attention, sample_size=128, latent_channels=int(latent)
    )
    cfg["out_channels"] = int(s["out.2.weight"][0])
    cfg["projection_class_embeddings_input_dim"] = int(s["film_emb.weight"][1])
    time_dim = int(s["time_embed.0.weight"][0])
    cfg["class_embeddings_concat"] = (
        int(s["input_blocks.1.0.emb_layers.1.weight"][1]) == 2 * time_dim
    )
    if depth != 1:
        cfg["transformer_layers_per_block"] = depth
    return cfg


def _vae_from_shapes(s: Mapping[str, torch.Size], scale_factor: float | None) -> dict[str, Any]:
    levels = _indices(s, r"encoder\.down\.(\d+)\.")
    channels = tuple(int(s[f"encoder.down.{i}.block.0.conv1.weight"][0]) for i in levels)
    per_block = len(_indices(s, r"encoder\.down\.0\.block\.(\d+)\."))
    latent = int(s["decoder.conv_in.weight"][1])
    cfg = vae_config(channels, per_block, latent, 1.0 if scale_factor is None else scale_factor)
    cfg["in_channels"] = int(s["encoder.conv_in.weight"][1])
    cfg["out_channels"] = int(s["decoder.conv_out.weight"][0])
    return cfg


def _vocoder_from_shapes(s: Mapping[str, torch.Size]) -> dict[str, Any]:
    width, n_mels = (int(x) for x in s["conv_pre.weight"][:2])
    kernels = tuple(int(s[f"ups.{i}.weight"][2]) for i in _indices(s, r"ups\.(\d+)\."))
    if kernels not in _HIFIGAN_STRIDES:
        raise CheckpointError(
            f"HiFi-GAN upsampling kernels {list(kernels)} are not AudioLDM's, so the strides "
            "are unknown: pass the original config"
        )
    n_res = len(_indices(s, r"resblocks\.(\d+)\.")) // len(kernels)
    res_kernels = [int(s[f"resblocks.{r}.convs1.0.weight"][2]) for r in range(n_res)]
    n_dil = len(_indices(s, r"resblocks\.0\.convs1\.(\d+)\."))
    if n_dil != 3:
        raise CheckpointError(f"HiFi-GAN blocks with {n_dil} dilations: pass the original config")
    cfg = hifigan_config(width, n_mels=n_mels)
    cfg.update(
        upsample_rates=_HIFIGAN_STRIDES[kernels],
        upsample_kernel_sizes=list(kernels),
        resblock_kernel_sizes=res_kernels,
        resblock_dilation_sizes=[[1, 3, 5]] * n_res,
    )
    return cfg
