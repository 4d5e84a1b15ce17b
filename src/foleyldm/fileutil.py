"""Atomic file writes: nothing half-written is ever left at the destination."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_open(dest: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``dest`` for binary writing; rename it over ``dest`` on
    success, delete it on any failure (an existing ``dest`` is then left untouched).

    Parent folders are created. The file gets the usual umask permissions (not mkstemp's 0600).
    """
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
