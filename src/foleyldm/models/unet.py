"""The AudioLDM UNet (diffusers' ``UNet2DConditionModel``) and its two attention layouts.

The original AudioLDM network uses attention heads of a fixed *width*: 32 channels (64 for
AudioLDM-L), i.e. ``channels // 32`` heads per level. diffusers' AudioLDM configs say
``attention_head_dim: 8``, which ``UNet2DConditionModel`` reads as 8 heads in every block: the
same weights computing a different function (REFERENCE.md §2). The weights were trained with
the original layout, so foleyldm defaults to it ("faithful") and keeps "diffusers" (the
config as saved) for bit parity with diffusers' ``AudioLDMPipeline``.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from diffusers import UNet2DConditionModel

AttentionLayout = Literal["faithful", "diffusers"]
ATTENTION_LAYOUTS: tuple[str, ...] = ("faithful", "diffusers")

#: AudioLDM-L is the one release with 64-channel heads; it is the one with 256 base channels.
_WIDE_HEAD_BASES = {256}


def head_width(block_out_channels: tuple[int, ...] | list[int]) -> int:
    """The original network's head width for a released AudioLDM UNet (32, or 64 for -l)."""
    return 64 if block_out_channels[0] in _WIDE_HEAD_BASES else 32


def faithful_heads(config: dict[str, Any]) -> tuple[int, ...]:
    """Per-level head counts of the original network for this UNet config.

    A per-level tuple already in the config (our presets and converted checkpoints) is kept;
    a single number (diffusers' AudioLDM repos) is replaced by ``channels // head_width``.
    """
    heads = config.get("attention_head_dim")
    if isinstance(heads, list | tuple):
        return tuple(int(h) for h in heads)
    channels = tuple(config["block_out_channels"])
    width = head_width(channels)
    return tuple(max(1, c // width) for c in channels)


def load_unet(
    path: str | os.PathLike[str], attention_layout: AttentionLayout = "faithful"
) -> UNet2DConditionModel:
    """Load a UNet folder with the chosen attention layout (weights are the same either way)."""
    if attention_layout not in ATTENTION_LAYOUTS:
        raise ValueError(
            f"attention_layout must be one of {ATTENTION_LAYOUTS}, got {attention_layout!r}"
        )
    config = UNet2DConditionModel.load_config(path)
    if attention_layout == "faithful":
        heads = faithful_heads(config)
        if heads != config.get("attention_head_dim"):
            return UNet2DConditionModel.from_pretrained(path, attention_head_dim=heads)
    return UNet2DConditionModel.from_pretrained(path)
