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
from pathlib import Path

_DIRECTORY, _ZLIB, _ZSTD = 2, 1, 4


class ResourceError(ValueError):
    """Not a Qt resource bundle, or one this reader cannot unpack."""


def read_rcc(path: str | Path) -> dict[str, bytes]:
    """Every file of the bundle at ``path``: ``{"/folder/name.ogg": bytes}``."""
    return parse_rcc(Path(path).read_bytes())


def parse_rcc(blob: bytes) -> dict[str, bytes]:
    """`read_rcc` on the bundle's bytes."""
    if blob[:4] != b"qres" or len(blob) < 20:
        raise ResourceError("not a Qt resource bundle (no 'qres' header)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version < 2 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack_from(">H", blob, names + offset)
        start = names + offset + 6
        return blob[start : start + 2 * length].decode("utf-16-be")

    out: dict[str, bytes] = {}
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
        (length,) = struct.unpack_from(">I", blob, data + offset)
        raw = blob[data + offset + 4 : data + offset + 4 + length]
        if flags & _ZSTD:
            raise ResourceError(f"{here}: zstd-compressed resources are not supported")
        out[here] = zlib.decompress(raw[4:]) if flags & _ZLIB else raw
    return out


def write_rcc(files: dict[str, bytes], compress: bool = True) -> bytes:
    """A version-2 bundle of ``files`` (``{"/a/b.ogg": bytes}``), each compressed with zlib
    when ``compress``: the inverse of `parse_rcc`, for tests and fixtures."""
    root: dict[str, object] = {}
    for path, content in files.items():
        parts = [p for p in path.split("/") if p]
        folder = root
        for part in parts[:-1]:
            folder = folder.setdefault(part, {})  # type: ignore[assignment]
        folder[parts[-1]] = content
    nodes: list[tuple[str, object]] = [("", root)]
    names = bytearray()
    data = bytearray()
    tree = bytearray()
    i = 0
    while i < len(nodes):  # breadth first: a directory's children are contiguous
        label, value = nodes[i]
        name_offset = len(names)
        encoded = label.encode("utf-16-be")
        names += struct.pack(">HI", len(label), 0) + encoded
        if isinstance(value, dict):
            children = sorted(value.items())
            tree += struct.pack(">IHII", name_offset, _DIRECTORY, len(children), len(nodes))
            nodes.extend(children)
        else:
            assert isinstance(value, bytes)
            body = struct.pack(">I", len(value)) + zlib.compress(value) if compress else value
            tree += struct.pack(">IHHHI", name_offset, _ZLIB if compress else 0, 0, 0, len(data))
            data += struct.pack(">I", len(body)) + body
        tree += struct.pack(">Q", 0)  # modification time (version 2)
        i += 1
    header = 20
    return (
        b"qres"
        + struct.pack(">IIII", 2, header, header + len(tree) + len(names), header + len(tree))
        + bytes(tree)
        + bytes(names)
        + bytes(data)
    )
