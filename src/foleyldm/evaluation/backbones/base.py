"""The backbone interface: one clip in, a clip embedding (and class logits) out.

Every backbone owns its resampling and front end, so callers pass audio at any rate. The
`Backbone.cache_key` names everything that changes the numbers (backbone, front-end version,
weights digest); the embedding cache of ``foleyldm eval`` is keyed by it.
"""

from __future__ import annotations

import abc
import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from foleyldm.errors import FoleyError


class BackboneError(FoleyError, RuntimeError):
    """A backbone that cannot be loaded (missing package, missing or wrong weights)."""


@dataclass
class Features:
    """What a backbone gives for one clip.

    Attributes:
        embedding: clip embedding [D] (float32).
        logits: clip class logits [C] (pre-sigmoid/softmax), or None for embedding-only models.
        frames: per-frame embeddings [F, D] where the field's FD uses frames (VGGish FAD).
    """

    embedding: np.ndarray
    logits: np.ndarray | None = None
    frames: np.ndarray | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"embedding": self.embedding}
        if self.logits is not None:
            out["logits"] = self.logits
        if self.frames is not None:
            out["frames"] = self.frames
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> Features:
        return cls(
            embedding=np.asarray(arrays["embedding"]),
            logits=np.asarray(arrays["logits"]) if "logits" in arrays else None,
            frames=np.asarray(arrays["frames"]) if "frames" in arrays else None,
        )


def file_digest(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class Backbone(abc.ABC):
    """A pretrained audio model used as a feature extractor for FD, IS, KL and KID."""

    #: Short name (``yamnet``, ``cnn14``, ``vggish``, ``aisfx``).
    name: str
    #: Bump when the front end or the graph handling changes what comes out.
    version: str
    #: Rate the model's front end expects; inputs are resampled to it.
    sample_rate: int
    #: Size of `Features.embedding`.
    embed_dim: int
    #: AudioSet-style class names for `Features.logits`, or None.
    class_names: list[str] | None = None
    #: Whether FD should use `Features.frames` (one row per frame) instead of clip embeddings.
    frame_level_fd: bool = False

    @property
    def weights_digest(self) -> str:
        """Identifies the weights (a file hash, or the package version that ships them)."""
        return ""

    @property
    def cache_key(self) -> str:
        digest = self.weights_digest
        return f"{self.name}-v{self.version}" + (f"-{digest[:16]}" if digest else "")

    @abc.abstractmethod
    def features_at_rate(self, wav: np.ndarray) -> Features:
        """Features of a mono clip [N] already at `sample_rate` (float32 in [-1, 1])."""

    def __call__(self, wav: Any, sample_rate: int) -> Features:
        """Features of a mono clip [N] (numpy or torch) at any ``sample_rate``."""
        import torch

        from foleyldm.audio.io import resample

        x = torch.as_tensor(np.asarray(wav, dtype=np.float32))
        if x.ndim != 1 or x.numel() == 0:
            raise ValueError(
                f"{self.name}: expected a non-empty mono clip [N], got {tuple(x.shape)}"
            )
        x = resample(x, sample_rate, self.sample_rate)
        return self.features_at_rate(x.numpy().astype(np.float32, copy=False))
