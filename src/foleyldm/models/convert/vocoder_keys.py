"""Vocoder names: original HiFi-GAN ``Generator`` <-> transformers ``SpeechT5HifiGan``.

Original layout (relative to ``first_stage_model.vocoder.``, weight norm already removed)::

    conv_pre, conv_post, resblocks.j.convs1.k, resblocks.j.convs2.k  -> same names
    ups.i                                                         -> upsampler.i

``SpeechT5HifiGan`` also holds ``mean``/``scale`` buffers for input normalisation; AudioLDM
does not normalise (``normalize_before`` False), so they are written as 0 / 1 and dropped on
the way back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from foleyldm.errors import CheckpointError
from foleyldm.models.convert.keymap import KeyMap

#: transformers-only buffers: present in the new layout, absent from the original.
NORM_BUFFERS = ("mean", "scale")


def vocoder_key_map(config: Mapping[str, Any]) -> KeyMap:
    """The name table of a ``SpeechT5HifiGanConfig`` (dict or config object)."""
    cfg = _as_dict(config)
    km = KeyMap("vocoder")
    km.add("conv_pre", "conv_pre")
    n_kernels = len(cfg["resblock_kernel_sizes"])
    for i in range(len(cfg["upsample_rates"])):
        km.add(f"ups.{i}", f"upsampler.{i}")
        for r in range(n_kernels):
            j = i * n_kernels + r
            for k in range(len(cfg["resblock_dilation_sizes"][r])):
                for convs in ("convs1", "convs2"):
                    km.add(f"resblocks.{j}.{convs}.{k}", f"resblocks.{j}.{convs}.{k}")
    km.add("conv_post", "conv_post")
    return km


def vocoder_original_to_hf(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Original HiFi-GAN weights -> ``SpeechT5HifiGan`` state dict (with mean 0, scale 1).

    Raises:
        CheckpointError: a key the config does not have, one it needs that is absent, or a
            config that normalises its input (the original never does).
    """
    cfg = _as_dict(config)
    if cfg.get("normalize_before", False):
        raise CheckpointError("the original HiFi-GAN has no input normalisation")
    out = vocoder_key_map(cfg).to_new_layout(state)
    dtype = state["conv_pre.weight"].dtype
    n_mels = int(cfg["model_in_dim"])
    out["mean"] = torch.zeros(n_mels, dtype=dtype)
    out["scale"] = torch.ones(n_mels, dtype=dtype)
    return out


def vocoder_hf_to_original(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """The inverse of :func:`vocoder_original_to_hf` (``mean``/``scale`` dropped)."""
    cfg = _as_dict(config)
    if cfg.get("normalize_before", False):
        raise CheckpointError(
            "this vocoder normalises its input (normalize_before): the original HiFi-GAN "
            "cannot express that"
        )
    weights = {k: v for k, v in state.items() if k not in NORM_BUFFERS}
    return vocoder_key_map(cfg).to_old_layout(weights, layout="transformers")


def _as_dict(config: Mapping[str, Any]) -> dict[str, Any]:
    # transformers configs are not Mappings; accept them too (``config.to_dict()``).
    return dict(config) if isinstance(config, Mapping) else dict(config.to_dict())
