"""On-disk cache of backbone features, keyed by file content and backbone (never stale).

An entry is ``<root>/<backbone.cache_key>/<sha[:2]>/<sha>.npz`` where ``sha`` is the sha256 of
the audio file's bytes and the backbone key names the backbone, its front-end version and
its weights' digest: editing a file, swapping weights or changing a front end all miss.
Entries are written atomically; an unreadable entry is treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from foleyldm.evaluation.backbones.base import Backbone, Features
from foleyldm.fileutil import atomic_open

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$FOLEYLDM_CACHE/eval`` (or the user cache folder's ``foleyldm/eval``)."""
    from foleyldm.models.registry import cache_dir

    return cache_dir() / "eval"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FeatureCache:
    """Features of one backbone by content hash. ``root=None`` disables caching."""

    def __init__(self, root: str | os.PathLike[str] | None, backbone: Backbone) -> None:
        self.folder = None if root is None else Path(root) / backbone.cache_key
        self.hits = 0
        self.misses = 0

    def _path(self, sha: str) -> Path:
        assert self.folder is not None
        return self.folder / sha[:2] / f"{sha}.npz"

    def get(self, sha: str) -> Features | None:
        if self.folder is None:
            return None
        path = self._path(sha)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return Features.from_arrays({k: arrays[k] for k in arrays.files})
        except (OSError, ValueError, KeyError) as err:
            log.warning("ignoring unreadable cache entry %s (%s)", path, err)
            return None

    def put(self, sha: str, features: Features) -> None:
        if self.folder is None:
            return
        buf = io.BytesIO()
        arrays: dict[str, Any] = dict(features.to_arrays())
        np.savez(buf, allow_pickle=False, **arrays)
        with atomic_open(self._path(sha)) as fh:
            fh.write(buf.getvalue())
