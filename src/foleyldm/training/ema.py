"""Exponential moving average of a model's weights (the weights released models ship).

As the original LDM code (``LitEma``), the decay warms up: ``min(decay, (1 + n) / (10 + n))``
after ``n`` updates, so the average is not dominated by the random initialisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class EMA:
    """Shadow copies of a module's floating-point parameters and buffers."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()
        }
        self._trained = [n for n, p in model.named_parameters() if p.requires_grad]

    def current_decay(self) -> float:
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step towards ``model``'s current weights (trained ones; others are copied)."""
        self.num_updates += 1
        weight = 1.0 - self.current_decay()
        state = model.state_dict()
        trained = set(self._trained)
        avg = [self.shadow[k] for k in self._trained]
        torch._foreach_lerp_(avg, [state[k].detach() for k in self._trained], weight)
        for k, v in self.shadow.items():
            if k not in trained:
                v.copy_(state[k])

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model``."""
        model.load_state_dict(self.shadow, strict=False)

    @contextmanager
    def swapped(self, model: nn.Module) -> Iterator[nn.Module]:
        """``model`` with the averaged weights inside the block, its own weights after."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items() if k in self.shadow}
        self.copy_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(backup, strict=False)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        if missing:
            raise ValueError(f"EMA state lacks {sorted(missing)[:3]}...")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        for k, v in self.shadow.items():
            v.copy_(state["shadow"][k])
