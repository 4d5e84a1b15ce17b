"""VAE names: LDM ``AutoencoderKL`` (original AudioLDM) <-> diffusers ``AutoencoderKL``.

Original layout (relative to ``first_stage_model.``)::

    encoder.down.i.block.j              -> encoder.down_blocks.i.resnets.j
    encoder.down.i.downsample.conv      -> encoder.down_blocks.i.downsamplers.0.conv
    {en,de}coder.mid.block_1 / block_2  -> {en,de}coder.mid_block.resnets.0 / .1
    {en,de}coder.mid.attn_1             -> {en,de}coder.mid_block.attentions.0
        norm, q, k, v, proj_out (1x1 convs)  -> group_norm, to_q, to_k, to_v, to_out.0 (linears)
    decoder.up.(n-1-u).block.j          -> decoder.up_blocks.u.resnets.j   (reverse order)
    decoder.up.(n-1-u).upsample.conv    -> decoder.up_blocks.u.upsamplers.0.conv
    {en,de}coder.norm_out               -> {en,de}coder.conv_norm_out
    conv_in, conv_out, quant_conv, post_quant_conv: same names

ResBlocks keep ``norm1``/``conv1``/``norm2``/``conv2`` and rename ``nin_shortcut`` ->
``conv_shortcut`` (present exactly when the channel count changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from foleyldm.models.convert.keymap import KeyMap

_MID_ATTN = (
    ("norm", "group_norm", False),
    ("q", "to_q", True),
    ("k", "to_k", True),
    ("v", "to_v", True),
    ("proj_out", "to_out.0", True),
)


def _resnet(km: KeyMap, old: str, new: str, c_in: int, c_out: int) -> None:
    for leaf in ("norm1", "conv1", "norm2", "conv2"):
        km.add(f"{old}.{leaf}", f"{new}.{leaf}")
    if c_in != c_out:
        km.add(f"{old}.nin_shortcut", f"{new}.conv_shortcut")


def _mid(km: KeyMap, side: str, c: int) -> None:
    _resnet(km, f"{side}.mid.block_1", f"{side}.mid_block.resnets.0", c, c)
    for o, n, conv in _MID_ATTN:
        km.add(f"{side}.mid.attn_1.{o}", f"{side}.mid_block.attentions.0.{n}", conv1x1=conv)
    _resnet(km, f"{side}.mid.block_2", f"{side}.mid_block.resnets.1", c, c)


def vae_key_map(config: Mapping[str, Any]) -> KeyMap:
    """The name table of a diffusers ``AutoencoderKL`` config (names below the VAE)."""
    channels = [int(c) for c in config["block_out_channels"]]
    per_block = int(config.get("layers_per_block", 1))
    n = len(channels)
    km = KeyMap("VAE")

    km.add("encoder.conv_in", "encoder.conv_in")
    for i, c in enumerate(channels):
        for j in range(per_block):
            c_in = channels[max(i - 1, 0)] if j == 0 else c
            _resnet(
                km, f"encoder.down.{i}.block.{j}", f"encoder.down_blocks.{i}.resnets.{j}", c_in, c
            )
        if i < n - 1:
            km.add(
                f"encoder.down.{i}.downsample.conv", f"encoder.down_blocks.{i}.downsamplers.0.conv"
            )
    _mid(km, "encoder", channels[-1])
    km.add("encoder.norm_out", "encoder.conv_norm_out")
    km.add("encoder.conv_out", "encoder.conv_out")

    km.add("decoder.conv_in", "decoder.conv_in")
    _mid(km, "decoder", channels[-1])
    rev = channels[::-1]
    for u, c in enumerate(rev):
        level = n - 1 - u  # the original numbers decoder levels by resolution, lowest last
        for j in range(per_block + 1):
            c_in = rev[max(u - 1, 0)] if j == 0 else c
            _resnet(
                km, f"decoder.up.{level}.block.{j}", f"decoder.up_blocks.{u}.resnets.{j}", c_in, c
            )
        if u < n - 1:
            km.add(f"decoder.up.{level}.upsample.conv", f"decoder.up_blocks.{u}.upsamplers.0.conv")
    km.add("decoder.norm_out", "decoder.conv_norm_out")
    km.add("decoder.conv_out", "decoder.conv_out")

    km.add("quant_conv", "quant_conv")
    km.add("post_quant_conv", "post_quant_conv")
    return km


def vae_original_to_diffusers(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Original VAE weights (names below ``first_stage_model.``, no vocoder) -> diffusers.

    Raises:
        CheckpointError: a key the config does not have, or one it needs that is absent.
    """
    return vae_key_map(config).to_new_layout(state)


def vae_diffusers_to_original(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """The exact inverse of :func:`vae_original_to_diffusers`."""
    return vae_key_map(config).to_old_layout(state)
