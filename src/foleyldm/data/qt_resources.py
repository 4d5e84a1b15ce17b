"""Read the files inside a compiled Qt resource bundle (``.rcc``, Qt's ``rcc -binary``).

GCompris installs each activity's sounds inside such bundles; no Python package reads them
(PySide's ``rcc`` only writes), so this is the format, by hand (Qt's ``qresource.cpp``):

- header: ``b"qres"``, then big-endian u32 version, tree, data and names offsets (version 3
  adds a u32 of flags);
- the tree: fixed-size nodes (14 bytes, 22 from version 2 with a u64 modification time):
  u32 name offset, u16 flags; a directory (flag 2) then has u32 child count and u32 index of
  its first child, a file has u16 country, u16 language and u32 data offset;
- a name: u16 length, u32 hash, UTF-16BE characters;
- data: u32 length then the bytes; flag 1 means zlib with a u32 uncompressed size in front,
  flag 4 zstd (rejected here: Debian's bundles use zlib or none).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_DIRECTORY, _ZLIB, _ZSTD = 2, 1, 4


class ResourceError(ValueError):
    """Not a Qt resource bundle, or one this reader cannot unpack."""


def rcc_names(path: str | Path) -> list[str]:
    """The file paths in the bundle at ``path`` (nothing decompressed), sorted."""
    return sorted(name for name, _, _ in _files(Path(path).read_bytes()))


def read_rcc_member(path: str | Path, member: str) -> bytes:
    """One file of the bundle at ``path`` (only that one decompressed).

    Raises:
        KeyError: no file ``member`` in the bundle.
    """
    blob = Path(path).read_bytes()
    for name, flags, start in _files(blob):
        if name == member:
            return _content(blob, name, flags, start)
    raise KeyError(f"{member} is not in {path}")


def parse_rcc(blob: bytes) -> dict[str, bytes]:
    """Every file of a bundle's bytes: ``{"/folder/name.ogg": bytes}``."""
    return {name: _content(blob, name, flags, start) for name, flags, start in _files(blob)}


def _files(blob: bytes) -> Iterator[tuple[str, int, int]]:
    """(path, flags, offset of its data record) of every file node of the tree."""
    if blob[:4] != b"qres" or len(blob) < 20:
        raise ResourceError("not a Qt resource bundle (no 'qres' header)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version < 2 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack_from(">H", blob, names + offset)
        start = names + offset + 6
        return blob[start : start + 2 * length].decode("utf-16-be")

    todo = [(0, "")]
    while todo:
        index, prefix = todo.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack_from(">IH", blob, node)
        here = prefix + ("/" + name(name_offset) if index else "")
        if flags & _DIRECTORY:
            count, first = struct.unpack_from(">II", blob, node + 6)
            todo.extend((first + i, here) for i in range(count))
            continue
        (offset,) = struct.unpack_from(">I", blob, node + 10)
        yield here, flags, data + offset


def _content(blob: bytes, name: str, flags: int, start: int) -> bytes:
    (length,) = struct.unpack_from(">I", blob, start)
    raw = blob[start + 4 : start + 4 + length]
    if flags & _ZSTD:
        raise ResourceError(f"{name}: zstd-compressed resources are not supported")
    return zlib.decompress(raw[4:]) if flags & _ZLIB else raw
