"""The CLAP part of an original checkpoint (``cond_stage_model.*``): hand it to the CLAP key
mapping (:mod:`foleyldm.models.convert.clap_keys`) when that module is there, and build a
LAION CLAP from what it returns.

Released checkpoints carry the CLAP; test checkpoints (and the original-code reference data)
do not, so both must convert. The RoBERTa tokenizer is not part of a checkpoint: a CLAP can
only be written with a tokenizer folder supplied by the caller.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import torch

from foleyldm.errors import CheckpointError
from foleyldm.models.convert.keymap import format_keys

CLAP_PREFIX = "cond_stage_model."
#: Where the original conditioner keeps the LAION CLAP module itself.
CLAP_MODEL_PREFIX = "cond_stage_model.model."
#: Buffers transformers recomputes (older RoBERTa checkpoints store them).
_DERIVED = ("position_ids",)
#: Non-persistent buffers of the transformers towers, rebuilt by their constructors.
_RECOMPUTED = (
    "position_ids",
    "token_type_ids",
    "relative_position_index",
    "num_batches_tracked",
)


def convert_clap(
    state: Mapping[str, torch.Tensor],
    tokenizer: str | os.PathLike[str] | None = None,
    skip: bool = False,
) -> tuple[Any, set[str], set[str], str | None]:
    """(CLAP or None, keys used, keys ignored, why CLAP keys stay unconverted or None)."""
    keys = {k for k in state if k.startswith(CLAP_PREFIX)}
    if not keys:
        return None, set(), set(), None
    if skip:
        return None, set(), keys, None
    derived = {k for k in keys if k.endswith(_DERIVED)}
    try:
        clap_keys = importlib.import_module("foleyldm.models.convert.clap_keys")
    except ImportError:
        return (
            None,
            set(),
            derived,
            "this foleyldm has no CLAP key mapping yet: convert with skip_clap=True and "
            "generate from prompt embeddings",
        )
    if tokenizer is None:
        raise CheckpointError(
            "the checkpoint holds a CLAP, but its RoBERTa tokenizer is not in the checkpoint: "
            "pass clap_tokenizer=FOLDER (vocab.json + merges.txt, e.g. the tokenizer/ folder of "
            "a diffusers AudioLDM repository) or skip_clap=True"
        )
    conv = clap_keys.clap_original_to_hf(state, prefix=CLAP_MODEL_PREFIX)
    if conv.unknown:  # left unused on purpose: the caller's error names them with the rest
        return None, set(conv.used), set(conv.ignored) | derived, None
    try:
        text_cfg, audio_cfg = clap_keys.clap_configs_from_state(state, prefix=CLAP_MODEL_PREFIX)
    except (KeyError, ValueError) as e:
        raise CheckpointError(
            f"cannot read the CLAP configuration from the checkpoint: {e}"
        ) from None
    clap = build_laion_clap(conv.text, text_cfg, conv.audio or None, audio_cfg, tokenizer)
    return clap, set(conv.used), set(conv.ignored) | derived, None


def build_laion_clap(
    text_state: Mapping[str, torch.Tensor],
    text_config: Mapping[str, Any],
    audio_state: Mapping[str, torch.Tensor] | None,
    audio_config: Mapping[str, Any] | None,
    tokenizer: str | os.PathLike[str],
) -> Any:
    """A :class:`LaionCLAP` from transformers-layout CLAP weights (audio tower optional).

    Built on the CPU, not the meta device: the towers keep non-persistent buffers
    (position ids, relative position indices) that a state dict does not restore.
    """
    from transformers import (
        AutoTokenizer,
        ClapAudioConfig,
        ClapAudioModelWithProjection,
        ClapTextConfig,
        ClapTextModelWithProjection,
    )

    from foleyldm.models.clap.laion import LaionCLAP, default_feature_extractor

    tok = AutoTokenizer.from_pretrained(tokenizer)
    with torch.random.fork_rng(devices=[]):  # throw-away initialisation: keep the caller's RNG
        text = ClapTextModelWithProjection(ClapTextConfig(**text_config))
        audio = None
        if audio_state and audio_config is not None:
            audio = ClapAudioModelWithProjection(ClapAudioConfig(**audio_config))
    _load(text, text_state, "CLAP text tower")
    extractor = None
    if audio is not None and audio_state:
        _load(audio, audio_state, "CLAP audio tower")
        extractor = default_feature_extractor(audio.config)
    return LaionCLAP(text.eval(), tok, audio.eval() if audio is not None else None, extractor)


def _load(model: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    result = model.load_state_dict(dict(state), strict=False, assign=True)
    missing = [k for k in result.missing_keys if not k.endswith(_RECOMPUTED)]
    unexpected = [k for k in result.unexpected_keys if not k.endswith(_RECOMPUTED)]
    if missing or unexpected:
        raise CheckpointError(
            f"{what}: missing {format_keys(missing)}; unexpected {format_keys(unexpected)}"
        )
