"""The one metric interface: ``update()`` / ``compute()`` / ``reset()`` over reducible state.

A metric declares each piece of state once with `Metric.add_state`, saying how two copies
combine: ``"sum"`` (running sums, counts: DDP ranks all-reduce them) or ``"cat"`` (per-sample
rows that a split or a subset sampler needs: ranks gather and concatenate them). That is all a
process group needs to know, so `Metric.merge` (states from several workers, in order) and
`Metric.sync` (``torch.distributed``) are written once here for every metric.

State is float64 numpy; inputs may be numpy arrays or torch tensors on any device.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np

from foleyldm.errors import InvalidInputError

Reduction = Literal["sum", "cat"]


class MetricError(InvalidInputError):
    """A metric fed inputs it cannot use (wrong shapes, too few samples, NaN)."""


def as_float64(x: Any, name: str = "input") -> np.ndarray:
    """A numpy or torch array (any device) -> float64 numpy array; rejects NaN/Inf."""
    if hasattr(x, "detach"):  # torch without importing torch here
        x = x.detach().to("cpu").double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise MetricError(f"{name} contains NaN or Inf")
    return arr


def as_rows(x: Any, name: str, dim: int | None = None) -> np.ndarray:
    """[N, D] float64 rows (a single [D] vector becomes [1, D]); checks D if given."""
    arr = as_float64(x, name)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise MetricError(f"{name} must be [N, D] (or [D]), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise MetricError(f"{name} has {arr.shape[1]} features, earlier updates had {dim}")
    return arr


class Metric(abc.ABC):
    """Base class: declare state with `add_state`, then implement `update` and `compute`."""

    def __init__(self) -> None:
        self._defaults: dict[str, Any] = {}
        self._reductions: dict[str, Reduction] = {}

    # ---- declaring and holding state ----------------------------------------------------
    def add_state(self, name: str, default: Any, reduce: Reduction) -> None:
        """Declare a state attribute. ``"sum"``: a float64 array (or scalar); ``"cat"``: a list
        of arrays concatenated along axis 0 (``default`` must be ``[]``)."""
        if reduce not in ("sum", "cat"):
            raise ValueError(f"reduce must be 'sum' or 'cat', got {reduce!r}")
        if reduce == "cat" and default != []:
            raise ValueError("a 'cat' state starts as an empty list")
        self._defaults[name] = default
        self._reductions[name] = reduce
        setattr(self, name, copy.deepcopy(default))

    def reset(self) -> None:
        """Forget every update."""
        for name, default in self._defaults.items():
            setattr(self, name, copy.deepcopy(default))

    @abc.abstractmethod
    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add a batch of observations."""

    @abc.abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric value(s) from everything seen so far; does not change the state."""

    # ---- moving state between processes -------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every state as one array (``cat`` states concatenated; empty ones stay absent)."""
        out: dict[str, np.ndarray] = {}
        for name, how in self._reductions.items():
            value = getattr(self, name)
            if how == "cat":
                if value:
                    out[name] = np.concatenate(value, axis=0)
            else:
                out[name] = np.asarray(value, dtype=np.float64)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the state with ``state`` (as produced by `state_dict`)."""
        unknown = set(state) - set(self._reductions)
        if unknown:
            raise KeyError(f"{type(self).__name__}: unknown state keys {sorted(unknown)}")
        self.reset()
        for name, value in state.items():
            if self._reductions[name] == "cat":
                setattr(self, name, [np.asarray(value)])
            else:
                setattr(self, name, np.asarray(value, dtype=np.float64))

    def merge(self, states: Iterable[Mapping[str, Any]]) -> None:
        """Fold other workers' `state_dict`s into this one (sums add, rows append in order)."""
        for state in states:
            for name, value in state.items():
                how = self._reductions.get(name)
                if how is None:
                    raise KeyError(f"{type(self).__name__}: unknown state key {name!r}")
                if how == "cat":
                    getattr(self, name).append(np.asarray(value))
                else:
                    setattr(self, name, getattr(self, name) + np.asarray(value, dtype=np.float64))

    def sync(self, group: Any = None) -> None:
        """Reduce the state across a ``torch.distributed`` process group, in place.

        ``sum`` states are all-reduced; ``cat`` states are all-gathered in rank order. Without
        an initialised process group this does nothing, so single-process code can call it.
        """
        import torch
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        mine = self.state_dict()
        for name, how in self._reductions.items():
            if how == "sum":
                t = torch.from_numpy(np.array(mine[name], dtype=np.float64))
                dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
                setattr(self, name, t.numpy())
        gathered: list[Any] = [None] * dist.get_world_size(group)
        dist.all_gather_object(
            gathered, {k: v for k, v in mine.items() if self._reductions[k] == "cat"}, group=group
        )
        for name, how in self._reductions.items():
            if how == "cat":
                setattr(self, name, [g[name] for g in gathered if name in g])
