"""UNet names: CompVis ``openaimodel`` (original AudioLDM) <-> diffusers ``UNet2DConditionModel``.

Original layout (relative to ``model.diffusion_model.``)::

    time_embed.{0,2}            -> time_embedding.linear_{1,2}
    film_emb                    -> class_embedding            (FiLM: CLAP -> 4C, concatenated)
    input_blocks.0.0            -> conv_in
    input_blocks.k.0 / .k.1     -> down_blocks.i.resnets.j / .attentions.j
    input_blocks.k.0.op         -> down_blocks.i.downsamplers.0.conv
    middle_block.{0,1,2}        -> mid_block.resnets.0, .attentions.0, .resnets.1
    output_blocks.k.0 / .k.1    -> up_blocks.u.resnets.j / .attentions.j
    output_blocks.k.{1|2}.conv  -> up_blocks.u.upsamplers.0.conv   (index 2 after an attention)
    out.{0,2}                   -> conv_norm_out, conv_out

ResBlocks rename ``in_layers.0/2``, ``emb_layers.1``, ``out_layers.0/3``, ``skip_connection``;
SpatialTransformers keep their names (``norm``, ``proj_in``/``proj_out`` 1x1 convs,
``transformer_blocks.b.{attn1,attn2,ff,norm1-3}``), as diffusers copied them.

The EMA copy (LitEma) stores each parameter under ``model_ema.`` + its name below
``model.`` with the dots removed, e.g. ``model_ema.diffusion_modelinput_blocks00weight``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from foleyldm.errors import CheckpointError
from foleyldm.models.convert.keymap import KeyMap, format_keys

UNET_PREFIX = "model.diffusion_model."
EMA_PREFIX = "model_ema."
#: LitEma's two buffers; not weights, so never converted.
EMA_BOOKKEEPING = ("model_ema.decay", "model_ema.num_updates")

_RESNET = (
    ("in_layers.0", "norm1"),
    ("in_layers.2", "conv1"),
    ("emb_layers.1", "time_emb_proj"),
    ("out_layers.0", "norm2"),
    ("out_layers.3", "conv2"),
)
_ATTN_LEAVES = (("to_q", ("weight",)), ("to_k", ("weight",)), ("to_v", ("weight",)))


def _resnet(km: KeyMap, old: str, new: str, c_in: int, c_out: int) -> None:
    for o, n in _RESNET:
        km.add(f"{old}.{o}", f"{new}.{n}")
    if c_in != c_out:  # both codes add a 1x1 skip convolution exactly when channels change
        km.add(f"{old}.skip_connection", f"{new}.conv_shortcut")


def _transformer(km: KeyMap, old: str, new: str, depth: int, linear_proj: bool) -> None:
    km.add(f"{old}.norm", f"{new}.norm")
    # diffusers' use_linear_projection stores proj_in/out as linears; the original as 1x1 convs.
    km.add(f"{old}.proj_in", f"{new}.proj_in", conv1x1=linear_proj)
    km.add(f"{old}.proj_out", f"{new}.proj_out", conv1x1=linear_proj)
    for b in range(depth):
        o, n = f"{old}.transformer_blocks.{b}", f"{new}.transformer_blocks.{b}"
        for leaf in ("norm1", "norm2", "norm3", "ff.net.0.proj", "ff.net.2"):
            km.add(f"{o}.{leaf}", f"{n}.{leaf}")
        for attn in ("attn1", "attn2"):
            for leaf, params in _ATTN_LEAVES:
                km.add(f"{o}.{attn}.{leaf}", f"{n}.{attn}.{leaf}", params)
            km.add(f"{o}.{attn}.to_out.0", f"{n}.{attn}.to_out.0")


def unet_key_map(config: Mapping[str, Any]) -> KeyMap:
    """The name table of a diffusers ``UNet2DConditionModel`` config (UNet-relative names)."""
    channels = [int(c) for c in config["block_out_channels"]]
    per_block = int(config.get("layers_per_block", 2))
    depth = config.get("transformer_layers_per_block", 1)
    if not isinstance(depth, int):
        raise CheckpointError("per-block transformer_layers_per_block is not an AudioLDM layout")
    linear = bool(config.get("use_linear_projection", False))
    down_attn = [t.startswith("CrossAttn") for t in config["down_block_types"]]
    up_attn = [t.startswith("CrossAttn") for t in config["up_block_types"]]
    n = len(channels)

    km = KeyMap("UNet")
    km.add("time_embed.0", "time_embedding.linear_1")
    km.add("time_embed.2", "time_embedding.linear_2")
    if config.get("class_embed_type") == "simple_projection":
        km.add("film_emb", "class_embedding")
    km.add("input_blocks.0.0", "conv_in")

    k = 1
    for i, c in enumerate(channels):
        for j in range(per_block):
            c_in = channels[max(i - 1, 0)] if j == 0 else c
            _resnet(km, f"input_blocks.{k}.0", f"down_blocks.{i}.resnets.{j}", c_in, c)
            if down_attn[i]:
                _transformer(
                    km, f"input_blocks.{k}.1", f"down_blocks.{i}.attentions.{j}", depth, linear
                )
            k += 1
        if i < n - 1:
            km.add(f"input_blocks.{k}.0.op", f"down_blocks.{i}.downsamplers.0.conv")
            k += 1

    mid = channels[-1]
    _resnet(km, "middle_block.0", "mid_block.resnets.0", mid, mid)
    _transformer(km, "middle_block.1", "mid_block.attentions.0", depth, linear)
    _resnet(km, "middle_block.2", "mid_block.resnets.1", mid, mid)

    rev = channels[::-1]
    k = 0
    for u, c in enumerate(rev):
        prev = rev[max(u - 1, 0)]
        skip_last = rev[min(u + 1, n - 1)]
        for j in range(per_block + 1):
            # Each up resnet sees its own input concatenated with one skip from the down path.
            c_in = (prev if j == 0 else c) + (skip_last if j == per_block else c)
            _resnet(km, f"output_blocks.{k}.0", f"up_blocks.{u}.resnets.{j}", c_in, c)
            if up_attn[u]:
                _transformer(
                    km, f"output_blocks.{k}.1", f"up_blocks.{u}.attentions.{j}", depth, linear
                )
            if j == per_block and u < n - 1:
                idx = 2 if up_attn[u] else 1
                km.add(f"output_blocks.{k}.{idx}.conv", f"up_blocks.{u}.upsamplers.0.conv")
            k += 1

    km.add("out.0", "conv_norm_out")
    km.add("out.2", "conv_out")
    return km


def unet_original_to_diffusers(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Original UNet weights (names below ``model.diffusion_model.``) -> diffusers names.

    Raises:
        CheckpointError: a key the config does not have, or one it needs that is absent.
    """
    return unet_key_map(config).to_new_layout(state)


def unet_diffusers_to_original(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """The exact inverse of :func:`unet_original_to_diffusers`."""
    return unet_key_map(config).to_old_layout(state)


def ema_key(name: str) -> str:
    """LitEma's name for a UNet parameter.

    ``model.diffusion_model.input_blocks.0.0.weight`` (or the same without ``model.``) ->
    ``model_ema.diffusion_modelinput_blocks00weight``.
    """
    if name.startswith("model."):
        name = name[len("model.") :]
    return EMA_PREFIX + name.replace(".", "")


def has_ema(state: Mapping[str, Any]) -> bool:
    return any(k.startswith(EMA_PREFIX) and k not in EMA_BOOKKEEPING for k in state)


def select_unet_weights(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any], ema: bool = True
) -> tuple[dict[str, torch.Tensor], set[str], set[str]]:
    """Pick the EMA (default) or the online UNet copy of a full original state dict.

    Returns:
        (UNet-relative original-layout weights of the chosen copy, the source keys used,
        the keys deliberately ignored: the other copy and LitEma's ``decay``/``num_updates``).

    Raises:
        CheckpointError: the chosen copy is absent or incomplete.
    """
    names = list(unet_key_map(config).to_new)
    if ema and not has_ema(state):
        raise CheckpointError(
            "the checkpoint has no EMA copy of the UNet (model_ema.*): convert with ema=False "
            "(--no-ema) to use the online weights"
        )
    source = {n: ema_key(UNET_PREFIX + n) if ema else UNET_PREFIX + n for n in names}
    missing = [s for s in source.values() if s not in state]
    if missing:
        copy = "EMA" if ema else "online"
        raise CheckpointError(f"the {copy} UNet copy is missing {format_keys(missing)}")
    # The other copy is ignored name by name, so a stray key in it is still reported.
    other = (UNET_PREFIX + n if ema else ema_key(UNET_PREFIX + n) for n in names)
    ignored = {k for k in (*other, *EMA_BOOKKEEPING) if k in state}
    return {n: state[s] for n, s in source.items()}, set(source.values()), ignored
