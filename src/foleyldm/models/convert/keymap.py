"""A bijection between original and diffusers/transformers parameter names.

Each converter (UNet, VAE, vocoder) enumerates, from the model config, every parameter of the
model under both names. Renaming is then a dictionary lookup in either direction, so the two
directions are exact inverses by construction, and a key outside the table (or a table entry
missing from a checkpoint) is found before any tensor is touched.

The only tensor change is the VAE attention's 1x1 convolutions (original) <-> linear layers
(diffusers): ``[C, C, 1, 1]`` <-> ``[C, C]``, done as views, never copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from foleyldm.errors import CheckpointError

WEIGHT_BIAS = ("weight", "bias")


def format_keys(keys: Iterable[str], limit: int = 10) -> str:
    """``"3 keys: a, b, c"``; past ``limit`` names, ``"..., and 12 more"`` (sorted)."""
    names = sorted(keys)
    shown = ", ".join(names[:limit])
    more = f", and {len(names) - limit} more" if len(names) > limit else ""
    noun = "key" if len(names) == 1 else "keys"
    return f"{len(names)} {noun}: {shown}{more}"


class KeyMap:
    """Parameter names of one model in the original and the new layout, one to one."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.to_new: dict[str, str] = {}
        self.to_old: dict[str, str] = {}
        #: New names whose tensor is a linear weight stored as a 1x1 conv in the original.
        self.conv1x1: set[str] = set()

    def add(
        self,
        old: str,
        new: str,
        params: Iterable[str] = WEIGHT_BIAS,
        conv1x1: bool = False,
    ) -> None:
        """Pair module ``old`` with module ``new`` for each parameter leaf in ``params``."""
        for p in params:
            o, n = f"{old}.{p}" if old else p, f"{new}.{p}" if new else p
            if o in self.to_new or n in self.to_old:
                raise ValueError(f"{self.what} key map: {o} / {n} listed twice")
            self.to_new[o] = n
            self.to_old[n] = o
            if conv1x1 and p == "weight":
                self.conv1x1.add(n)

    def __len__(self) -> int:
        return len(self.to_new)

    def check(self, names: Iterable[str], table: Mapping[str, str], layout: str) -> None:
        """Raise CheckpointError for names outside ``table`` and table entries not in names."""
        present = set(names)
        unknown = present - table.keys()
        missing = table.keys() - present
        problems = []
        if unknown:
            problems.append(f"unexpected {format_keys(unknown)}")
        if missing:
            problems.append(f"missing {format_keys(missing)}")
        if problems:
            raise CheckpointError(
                f"{self.what} weights do not match the {layout} layout of this config: "
                + "; ".join(problems)
            )

    def to_new_layout(
        self, state: Mapping[str, torch.Tensor], layout: str = "original"
    ) -> dict[str, torch.Tensor]:
        """Rename an original-layout state dict (every key required, no extra key)."""
        self.check(state.keys(), self.to_new, layout)
        out: dict[str, torch.Tensor] = {}
        for old, tensor in state.items():
            new = self.to_new[old]
            out[new] = _conv_to_linear(tensor, old) if new in self.conv1x1 else tensor
        return out

    def to_old_layout(
        self, state: Mapping[str, torch.Tensor], layout: str = "diffusers"
    ) -> dict[str, torch.Tensor]:
        """Rename a new-layout state dict back to the original names (exact inverse)."""
        self.check(state.keys(), self.to_old, layout)
        out: dict[str, torch.Tensor] = {}
        for new, tensor in state.items():
            out[self.to_old[new]] = _linear_to_conv(tensor, new) if new in self.conv1x1 else tensor
        return out


def _conv_to_linear(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.dim() != 4 or tuple(t.shape[2:]) != (1, 1):
        raise CheckpointError(f"{name}: expected a 1x1 convolution weight, got {list(t.shape)}")
    return t[:, :, 0, 0]


def _linear_to_conv(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.dim() != 2:
        raise CheckpointError(f"{name}: expected a linear weight, got {list(t.shape)}")
    return t[:, :, None, None]
