"""CLAP conditioners: the interface, our trainable dual encoder, and LAION CLAP.

A pipeline folder holds its CLAP in one of two layouts:

- ``root/clap/`` (``config.json`` with ``"backend": "dual"`` + ``model.safetensors``);
- ``root/text_encoder/`` + ``root/tokenizer/`` (+ optional ``root/audio_encoder/`` +
  ``root/feature_extractor/``): LAION CLAP in the diffusers AudioLDM layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from foleyldm.models.clap.base import CLAP
from foleyldm.models.clap.dual import DualEncoderCLAP, DualEncoderConfig
from foleyldm.models.clap.laion import (
    HTSAT_BASE_AUDIO_CONFIG,
    HTSAT_TINY_AUDIO_CONFIG,
    LAION_TEXT_CONFIG,
    LaionCLAP,
)

#: Subfolder of a pipeline folder holding a dual-encoder CLAP.
DUAL_SUBFOLDER = "clap"

__all__ = [
    "CLAP",
    "DUAL_SUBFOLDER",
    "HTSAT_BASE_AUDIO_CONFIG",
    "HTSAT_TINY_AUDIO_CONFIG",
    "LAION_TEXT_CONFIG",
    "DualEncoderCLAP",
    "DualEncoderConfig",
    "LaionCLAP",
    "has_clap",
    "load_clap",
    "save_clap",
]


def has_clap(root: str | os.PathLike[str]) -> bool:
    """Whether the pipeline folder ``root`` holds a CLAP in either layout."""
    root = Path(root)
    return (root / DUAL_SUBFOLDER / "config.json").is_file() or (root / "text_encoder").is_dir()


def load_clap(root: str | os.PathLike[str]) -> CLAP:
    """Load the CLAP of the pipeline folder ``root``, whichever backend it uses."""
    root = Path(root)
    config_path = root / DUAL_SUBFOLDER / "config.json"
    if config_path.is_file():
        backend = json.loads(config_path.read_text()).get("backend")
        if backend != DualEncoderCLAP.backend:
            raise ValueError(f"{config_path}: unknown CLAP backend {backend!r} (expected 'dual')")
        return DualEncoderCLAP.from_pretrained(root / DUAL_SUBFOLDER)
    if (root / "text_encoder").is_dir():
        return LaionCLAP.from_pretrained(root)
    raise FileNotFoundError(
        f"no CLAP in {root}: expected {DUAL_SUBFOLDER}/config.json (dual backend) or "
        "text_encoder/ + tokenizer/ (LAION CLAP, diffusers AudioLDM layout)"
    )


def save_clap(clap: CLAP, root: str | os.PathLike[str]) -> None:
    """Write ``clap`` into the pipeline folder ``root`` in its backend's layout."""
    root = Path(root)
    if isinstance(clap, DualEncoderCLAP):
        clap.save_pretrained(root / DUAL_SUBFOLDER)
    elif isinstance(clap, LaionCLAP):
        clap.save_pretrained(root)
    else:
        raise TypeError(f"save_clap: unsupported CLAP backend {type(clap).__name__}")
