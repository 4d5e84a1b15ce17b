"""Prompt sets: AudioCaps-style CSVs of a caption and a reference clip per row.

Columns (a header row is required):

- ``caption``: the text to generate from;
- ``path`` (or ``audio``): the reference clip, relative to the CSV's folder or absolute;
- ``name`` (or ``id``, ``audiocap_id``), optional: the output's file name; without one it is
  the reference clip's file name (made unique with the row number where needed).

`read_prompt_set` reads one; `prompts_from_manifest` writes one from a manifest's split
(``foleyldm data prompts``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleyldm.errors import FoleyError
from foleyldm.fileutil import atomic_open

NAME_COLUMNS = ("name", "id", "audiocap_id")
PATH_COLUMNS = ("path", "audio")


class PromptSetError(FoleyError, ValueError):
    """A prompt set that cannot be used (no header, missing column or clip, duplicate name)."""


@dataclass(frozen=True)
class PromptRow:
    """One row: ``index`` is its 0-based position among the CSV's data rows."""

    index: int
    name: str
    caption: str
    path: Path


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text`` (letters, digits, ``._-``; at most 120 chars)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:120]


def _column(header: Sequence[str], choices: Sequence[str]) -> str | None:
    return next((c for c in choices if c in header), None)


def read_prompt_set(
    path: str | os.PathLike[str], limit: int | None = None, check_files: bool = True
) -> list[PromptRow]:
    """The rows of a prompt-set CSV (the first ``limit`` when given), with absolute paths.

    Raises:
        PromptSetError: no ``caption`` or ``path``/``audio`` column, an empty caption, a
            missing reference clip (when ``check_files``), or two rows with one name.
    """
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise PromptSetError(f"cannot read prompt set {src}: {err.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    path_col = _column(header, PATH_COLUMNS)
    name_col = _column(header, NAME_COLUMNS)
    if "caption" not in header or path_col is None:
        raise PromptSetError(
            f"{src}: needs a header with a 'caption' and a 'path' (or 'audio') column, "
            f"found {', '.join(header) or 'no header'}"
        )
    base = src.resolve().parent
    rows: list[PromptRow] = []
    names: dict[str, int] = {}
    for i, rec in enumerate(reader):
        if limit is not None and i >= limit:
            break
        line = i + 2  # the header is line 1
        caption = (rec.get("caption") or "").strip()
        ref = (rec.get(path_col) or "").strip()
        if not caption or not ref:
            raise PromptSetError(f"{src}:{line}: empty caption or {path_col}")
        clip = Path(ref).expanduser()
        clip = clip if clip.is_absolute() else base / clip
        if check_files and not clip.is_file():
            raise PromptSetError(f"{src}:{line}: reference clip {clip} not found")
        given = safe_name((rec.get(name_col) or "").strip()) if name_col else ""
        name = given or safe_name(clip.stem) or f"row{i:05d}"
        if name in names:
            if given:
                raise PromptSetError(
                    f"{src}:{line}: name {name!r} already used on line {names[name] + 2}"
                )
            name = f"{name}-{i:05d}"
        names[name] = i
        rows.append(PromptRow(i, name, caption, clip))
    if not rows:
        raise PromptSetError(f"{src}: no rows")
    return rows


def write_prompt_set(path: str | os.PathLike[str], rows: Sequence[PromptRow]) -> Path:
    """Write ``name,caption,path`` rows; paths under the CSV's folder become relative."""
    dest = Path(path)
    base = dest.resolve().parent
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "caption", "path"])
    for row in rows:
        clip = row.path.resolve()
        ref = clip.relative_to(base).as_posix() if clip.is_relative_to(base) else str(clip)
        writer.writerow([row.name, row.caption, ref])
    with atomic_open(dest) as fh:
        fh.write(buf.getvalue().encode("utf-8"))
    return dest


def prompts_from_manifest(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    split: str | None = "test",
    limit: int | None = None,
    seed: int | None = None,
) -> tuple[list[PromptRow], int]:
    """Write a prompt set from a manifest's ``split`` (None: every clip), first caption each.

    ``seed`` shuffles the clips (``numpy.random.default_rng(seed)``) before the first
    ``limit`` are taken; without it the manifest's order is kept. Names come from each
    clip's path relative to the manifest's folder. Returns (rows, clips left out for having
    no caption).
    """
    from foleyldm.data.manifest import read_manifest

    try:
        records = read_manifest(manifest, split=split)
    except OSError as err:
        raise PromptSetError(f"cannot read manifest {manifest}: {err.strerror}") from None
    usable = [r for r in records if r.captions and r.captions[0].strip()]
    if not usable:
        raise PromptSetError(f"{manifest}: no captioned clips in split {split!r}")
    uncaptioned = len(records) - len(usable)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(usable))
        usable = [usable[int(i)] for i in order]
    if limit is not None:
        usable = usable[:limit]
    root = Path(manifest).resolve().parent
    rows: list[PromptRow] = []
    taken: set[str] = set()
    for i, rec in enumerate(usable):
        clip = Path(rec.path)
        rel = clip.relative_to(root) if clip.is_relative_to(root) else Path(clip.name)
        name = safe_name(rel.with_suffix("").as_posix()) or f"clip{i:05d}"
        if name in taken:
            name = f"{name}-{i:05d}"
        taken.add(name)
        rows.append(PromptRow(i, name, rec.captions[0].strip(), clip))
    write_prompt_set(out, rows)
    return rows, uncaptioned
