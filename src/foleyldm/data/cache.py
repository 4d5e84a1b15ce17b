"""On-disk caches of encoder outputs (VAE latents, CLAP audio/text embeddings).

Entries live at ``root/<encoder>/<fingerprint[:16]>/<key[:2]>/<key>.safetensors``: the
fingerprint is a hash of the encoder's weights (or checkpoint files), the key a hash of
the clip's bytes and the preprocessing that fed the encoder (or of a text). A changed
encoder therefore never reads old entries; `EncoderCache.prune` deletes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from foleyldm.fileutil import atomic_open

T = TypeVar("T")


def fingerprint_module(module: torch.nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def fingerprint_files(paths: Iterable[str | os.PathLike[str]]) -> str:
    """SHA-256 over the contents of checkpoint files (in the order given)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def clip_key(path: str | os.PathLike[str], **params: Any) -> str:
    """Key of a clip: SHA-256 of its bytes and the preprocessing ``params`` (e.g.
    sample_rate, duration, crop offset), so editing the file or the crop misses."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def text_key(text: str) -> str:
    return hashlib.sha256(("text:" + text).encode("utf-8")).hexdigest()


class EncoderCache:
    """Tensors per key for one encoder version.

    Args:
        root: cache folder.
        encoder: a name such as "vae-latents" or "clap-audio".
        fingerprint: `fingerprint_module` / `fingerprint_files` of the encoder.
    """

    def __init__(self, root: str | os.PathLike[str], encoder: str, fingerprint: str) -> None:
        if not encoder or "/" in encoder or encoder.startswith("."):
            raise ValueError(f"bad encoder name {encoder!r}")
        self.root, self.encoder, self.fingerprint = Path(root), encoder, fingerprint
        self.dir = self.root / encoder / fingerprint[:16]
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.safetensors"

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        """The stored tensors, or ``None`` (missing, unreadable, or another fingerprint)."""
        path = self._path(key)
        try:
            with safe_open(path, framework="pt") as f:  # the header holds the fingerprint
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError):
            self.misses += 1
            return None
        if meta.get("fingerprint") != self.fingerprint:
            self.misses += 1
            return None
        self.hits += 1
        return tensors

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        data = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        blob = save(data, metadata={"fingerprint": self.fingerprint, "encoder": self.encoder})
        with atomic_open(self._path(key)) as fh:
            fh.write(blob)

    def get_or_compute(
        self, key: str, compute: Callable[[], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        found = self.get(key)
        if found is None:
            found = compute()
            self.put(key, found)
        return found

    def fill(
        self,
        items: Sequence[tuple[str, T]],
        encode: Callable[[list[T]], list[dict[str, torch.Tensor]]],
        batch_size: int = 16,
    ) -> int:
        """Encode (in batches) the items whose key is missing; returns how many were."""
        todo = [(k, x) for k, x in items if k not in self]
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            outs = encode([x for _, x in chunk])
            if len(outs) != len(chunk):
                raise ValueError(f"encode returned {len(outs)} results for {len(chunk)} inputs")
            for (k, _), out in zip(chunk, outs, strict=True):
                self.put(k, out)
        return len(todo)

    def stale(self) -> list[Path]:
        """Folders of this encoder made with other fingerprints."""
        base = self.root / self.encoder
        return (
            sorted(p for p in base.iterdir() if p.is_dir() and p != self.dir)
            if base.is_dir()
            else []
        )

    def prune(self) -> int:
        """Delete the entries of other fingerprints; returns how many folders went."""
        old = self.stale()
        for p in old:
            shutil.rmtree(p)
        return len(old)
