"""JSONL manifests: one line per clip, built from any folder of audio.

A line holds ``path`` (relative to the manifest's folder when the clip lies under it, else
absolute), ``duration`` (s), ``sample_rate``, ``channels``, ``captions`` (list),
``labels`` (list; the first is the clip's category), ``source``, ``license``, ``split``
(train / valid / test, from a hash of a stable key so it never changes between runs) and
``meta`` (anything else: package, original path, offset ...).

`build_manifest` walks a folder, probes every audio file (in threads), gathers captions
from sidecar ``.txt``/``.json`` files, AudioCaps CSVs and AudioLDM training JSONs, and falls
back to words of the path. A file that cannot be read is skipped and reported with the
reason; one bad file never stops the run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from foleyldm.audio.io import AudioError
from foleyldm.data.captions import path_caption
from foleyldm.fileutil import atomic_open

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au"})
SPLITS = ("train", "valid", "test")
_FIELDS = (
    "path",
    "duration",
    "sample_rate",
    "channels",
    "captions",
    "labels",
    "source",
    "license",
    "split",
    "meta",
)


@dataclass
class ClipRecord:
    """One manifest line. ``path`` is absolute in memory; `write_manifest` relativises it."""

    path: str
    duration: float
    sample_rate: int
    channels: int
    captions: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    source: str = ""
    license: str = ""
    split: str = "train"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        return self.labels[0] if self.labels else None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipRecord:
        """Build from a parsed line; unknown keys go into ``meta``."""
        known = {k: d[k] for k in _FIELDS if k in d}
        extra = {k: v for k, v in d.items() if k not in _FIELDS}
        rec = cls(**known)
        rec.meta = {**extra, **rec.meta}
        return rec


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class ManifestReport:
    records: list[ClipRecord]
    skipped: list[Skipped]


def split_for(key: str, valid: float = 0.05, test: float = 0.05) -> str:
    """Deterministic split of a clip from a stable key (e.g. its path relative to the root).

    The key's SHA-1 gives a number u in [0, 1): u < valid → "valid", u < valid + test →
    "test", else "train". Clips cut from one file should share the key (no leakage).
    """
    if valid < 0 or test < 0 or valid + test > 1:
        raise ValueError(f"bad split fractions valid={valid} test={test}")
    u = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:13], 16) / 16**13
    return "valid" if u < valid else "test" if u < valid + test else "train"


# ---- reading and writing ------------------------------------------------------------------
def write_manifest(path: str | os.PathLike[str], records: Iterable[ClipRecord]) -> Path:
    """Write records as JSONL (atomically). Clip paths under the manifest's folder are
    stored relative to it, so a corpus folder can be moved as a whole."""
    dest = Path(path)
    base = dest.resolve().parent
    with atomic_open(dest) as fh:
        for rec in records:
            d = asdict(rec)
            p = Path(rec.path)
            if p.is_absolute() and p.resolve().is_relative_to(base):
                d["path"] = p.resolve().relative_to(base).as_posix()
            if not d["meta"]:
                del d["meta"]
            fh.write((json.dumps(d, ensure_ascii=False) + "\n").encode("utf-8"))
    return dest


def iter_manifest(path: str | os.PathLike[str]) -> Iterator[ClipRecord]:
    """Yield the records of a JSONL manifest with absolute paths; blank lines are ignored."""
    src = Path(path)
    base = src.resolve().parent
    with src.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = ClipRecord.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError) as err:
                raise ValueError(f"{src}:{lineno}: not a manifest line ({err})") from None
            if not os.path.isabs(rec.path):
                rec.path = str(base / rec.path)
            yield rec


def read_manifest(path: str | os.PathLike[str], split: str | None = None) -> list[ClipRecord]:
    """All records of a manifest, optionally only one split."""
    return [r for r in iter_manifest(path) if split is None or r.split == split]


# ---- probing ------------------------------------------------------------------------------
def probe_audio(path: str | os.PathLike[str], verify: bool = True) -> tuple[float, int, int]:
    """``(duration_s, sample_rate, channels)`` of a file, decoding it all when ``verify``.

    Raises:
        AudioError: unreadable, empty, truncated/corrupt data, NaN/Inf, or all-zero audio.
    """
    name = os.fspath(path)
    try:
        with sf.SoundFile(name) as f:
            sr, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            if frames <= 0 or sr <= 0:
                raise AudioError(f"{name}: empty audio (0 samples)")
            if verify:
                peak, read = 0.0, 0
                for block in f.blocks(blocksize=1 << 18, dtype="float32", always_2d=True):
                    if not np.isfinite(block).all():
                        raise AudioError(f"{name}: contains NaN or Inf samples")
                    peak = max(peak, float(np.abs(block).max(initial=0.0)))
                    read += block.shape[0]
                if read == 0:
                    raise AudioError(f"{name}: empty audio (0 samples)")
                if peak == 0.0:
                    raise AudioError(f"{name}: silent (all samples are zero)")
                frames = read
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise AudioError(f"{name}: not readable audio ({reason})") from None
    return frames / sr, sr, channels


# ---- caption sources ----------------------------------------------------------------------
_LOCALE_LINE = re.compile(r"^\S+\.utf-?8\s*=", re.IGNORECASE)


def read_sidecar(audio: Path) -> dict[str, Any]:
    """Captions (and labels, license) from ``clip.txt``/``clip.json`` beside ``clip.wav``.

    A .txt gives one caption per non-empty line; translation lines such as Tux Paint's
    ``de.utf8=...`` and ``#`` comments are ignored. A .json may hold ``caption``,
    ``captions``, ``caption_*``, ``labels`` and ``license``.
    """
    out: dict[str, Any] = {}
    for cand in (audio.with_suffix(".json"), Path(f"{audio}.json")):
        if cand.is_file():
            try:
                d = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(d, dict):
                out["captions"] = _captions_of(d)
                if "labels" in d:
                    out["labels"] = _labels_of(d["labels"])
                if isinstance(d.get("license"), str):
                    out["license"] = d["license"]
                break
    for cand in (audio.with_suffix(".txt"), Path(f"{audio}.txt")):
        if cand.is_file() and not out.get("captions"):
            try:
                lines = cand.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            out["captions"] = [
                s
                for s in (line.strip() for line in lines)
                if s and not s.startswith("#") and not _LOCALE_LINE.match(s)
            ]
            break
    return out


def _captions_of(d: dict[str, Any]) -> list[str]:
    caps: list[str] = []
    if isinstance(d.get("captions"), list):
        caps += [str(c) for c in d["captions"]]
    caps += [
        str(v)
        for k, v in sorted(d.items())
        if k.startswith("caption") and k != "captions" and isinstance(v, str)
    ]
    return [c.strip() for c in caps if c.strip()]


def _labels_of(labels: Any) -> list[str]:
    if isinstance(labels, str):
        return [s.strip() for s in labels.split(",") if s.strip()]
    if isinstance(labels, list):
        return [str(s).strip() for s in labels if str(s).strip()]
    return []


def read_audiocaps_csv(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """AudioCaps CSV (audiocap_id, youtube_id, start_time, caption) → {key: captions}.

    Each row is indexed under the names downloaders give the files: the audiocap_id, the
    youtube_id, ``Y<youtube_id>`` and ``<youtube_id>_<start_time>``.
    """
    index: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            caption = (row.get("caption") or "").strip()
            ytid = (row.get("youtube_id") or "").strip()
            if not caption:
                continue
            start = (row.get("start_time") or "").strip()
            keys = {(row.get("audiocap_id") or "").strip(), ytid, f"Y{ytid}" if ytid else ""}
            if ytid and start:
                keys |= {f"{ytid}_{start}", f"{ytid}_{int(float(start))}"}
            for k in keys - {""}:
                caps = index.setdefault(k, [])
                if caption not in caps:
                    caps.append(caption)
    return index


def audiocaps_lookup(index: dict[str, list[str]], stem: str) -> list[str]:
    """Captions for a file stem: exact key, else its YouTube id (``Y`` prefix, 11 chars)."""
    for key in (stem, stem[1:12] if stem.startswith("Y") else "", stem[:11]):
        if key and key in index:
            return index[key]
    return []


def read_audioldm_json(
    path: str | os.PathLike[str], roots: Sequence[Path] = ()
) -> dict[str, dict[str, Any]]:
    """AudioLDM training JSON ``{"data": [{"wav", "caption", "labels"}, ...]}`` → {real
    path: {"captions", "labels"}}. Relative ``wav`` paths are tried against each of
    ``roots`` and then the JSON's own folder."""
    src = Path(path)
    doc = json.loads(src.read_text(encoding="utf-8"))
    entries = doc.get("data", []) if isinstance(doc, dict) else doc
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("wav"), str):
            continue
        wav = Path(e["wav"])
        cands = [wav] if wav.is_absolute() else [r / wav for r in (*roots, src.parent)]
        info = {"captions": _captions_of(e), "labels": _labels_of(e.get("labels", []))}
        for c in cands:
            out[os.path.realpath(c)] = info
    return out


# ---- building -----------------------------------------------------------------------------
def find_audio(root: str | os.PathLike[str]) -> list[Path]:
    """Audio files under ``root`` (by suffix), sorted, hidden folders skipped."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if Path(f).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(found)


def build_manifest(
    root: str | os.PathLike[str],
    *,
    audiocaps_csv: Sequence[str | os.PathLike[str]] = (),
    audioldm_json: Sequence[str | os.PathLike[str]] = (),
    source: str | None = None,
    license: str = "",
    valid: float = 0.05,
    test: float = 0.05,
    workers: int = 4,
    verify: bool = True,
) -> ManifestReport:
    """Probe every audio file under ``root`` and make a record for each readable one.

    Captions, first source that has any: sidecar .json/.txt, AudioLDM JSON, AudioCaps
    CSV, then path words (folder + stem through the vocabulary). Labels: the sidecar's or
    JSON's, else the path's category. The split key is the path relative to ``root``.
    """
    base = Path(root)
    if not base.is_dir():
        raise AudioError(f"{base}: not a folder")
    caps_index: dict[str, list[str]] = {}
    for p in audiocaps_csv:
        for k, v in read_audiocaps_csv(p).items():
            caps_index.setdefault(k, []).extend(c for c in v if c not in caps_index.get(k, []))
    json_index: dict[str, dict[str, Any]] = {}
    for p in audioldm_json:
        json_index.update(read_audioldm_json(p, roots=[base]))
    files = find_audio(base)
    src_name = source or base.resolve().name

    def one(path: Path) -> ClipRecord | Skipped:
        try:
            duration, sr, channels = probe_audio(path, verify=verify)
        except AudioError as err:
            return Skipped(str(path), str(err).removeprefix(f"{path}: "))
        rel = path.relative_to(base).as_posix()
        side = read_sidecar(path)
        from_json = json_index.get(os.path.realpath(path), {})
        captions = (
            side.get("captions")
            or from_json.get("captions")
            or audiocaps_lookup(caps_index, path.stem)
        )
        labels = side.get("labels") or from_json.get("labels") or []
        if not captions or not labels:
            pc = path_caption(rel)
            captions = captions or ([pc.caption] if pc.caption else [])
            label = pc.category or pc.fallback
            labels = labels or ([label] if label else [])
        return ClipRecord(
            path=str(path.resolve()),
            duration=round(duration, 6),
            sample_rate=sr,
            channels=channels,
            captions=list(captions),
            labels=list(labels),
            source=src_name,
            license=side.get("license", license),
            split=split_for(rel, valid, test),
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, files))
    return ManifestReport(
        records=[r for r in results if isinstance(r, ClipRecord)],
        skipped=[r for r in results if isinstance(r, Skipped)],
    )


def write_skip_report(path: str | os.PathLike[str], skipped: Sequence[Skipped]) -> Path:
    """Tab-separated ``path<TAB>reason`` lines, one per skipped file."""
    dest = Path(path)
    with atomic_open(dest) as fh:
        for s in skipped:
            fh.write(f"{s.path}\t{s.reason}\n".encode())
    return dest
