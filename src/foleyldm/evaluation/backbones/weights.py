"""Reading user-supplied weight files safely (tensors only, never arbitrary pickles)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from foleyldm.evaluation.backbones.base import BackboneError


def load_state_dict(
    path: str | os.PathLike[str], wrapper_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A state dict from ``.safetensors`` or a torch file read with ``weights_only=True``.

    ``wrapper_keys``: keys under which a checkpoint may nest its state dict (PANNs: "model").
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise BackboneError(f"weights file not found: {p}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(p)))
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # pickles with code, truncated files, ...
        raise BackboneError(
            f"{p}: not a tensor-only checkpoint ({type(err).__name__}: {err})"
        ) from None
    for key in wrapper_keys:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise BackboneError(f"{p}: expected a state dict, got {type(obj).__name__}")
    return dict(obj)


def load_strict(
    module: Any, state: dict[str, Any], source: str, ignore: tuple[str, ...] = ()
) -> None:
    """``module.load_state_dict`` that reports missing/unexpected keys as one BackboneError."""
    state = {k: v for k, v in state.items() if not k.startswith(ignore)}
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        raise BackboneError(
            f"{source}: does not match {type(module).__name__} "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}, "
            f"wrong shape {wrong[:3]})"
        )
    module.load_state_dict(state)
