"""The built-in real corpus: recorded sound from Debian packages, rebuilt on demand.

`build_corpus` fetches each package with ``apt-get download`` (no root, nothing installed)
into ``cache/debs``, unpacks it with ``dpkg -x`` into ``cache/unpacked/<package>``, takes
the audio its handler (`corpus_sources.PACKAGES`) picks, drops byte-identical duplicates,
resamples to 16 kHz mono, trims digital silence at the ends, cuts files longer than
10.24 s into equal parts, writes 16-bit FLAC under ``clips/<package>/``, copies each
package's copyright file to ``licenses/``, and writes ``manifest.jsonl``,
``skipped.tsv`` and ``summary.json``. One bad file or one missing package never stops it.
The audio is GPL / CC-BY-SA / CC0 material: it stays out of the git repository.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from foleyldm.audio.io import save_audio
from foleyldm.data.corpus_sources import PACKAGES, SIDE_PACKAGES, Licenses, SourceItem
from foleyldm.data.manifest import ClipRecord, Skipped, split_for, write_manifest, write_skip_report
from foleyldm.fileutil import atomic_open

SAMPLE_RATE = 16000
MAX_CLIP_S = 10.24
MIN_CLIP_S = 0.05
SILENCE = 10 ** (-70 / 20)  # |x| below -70 dBFS counts as digital silence at the ends
# what reading or decoding one bad file can raise (corrupt zip members included)
_BAD_FILE = (ValueError, OSError, RuntimeError, zipfile.BadZipFile, zlib.error, EOFError)


@dataclass
class CorpusReport:
    records: list[ClipRecord]
    skipped: list[Skipped]
    packages: dict[str, str]  # package -> "ok" or why it was left out
    duplicates: int

    @property
    def hours(self) -> float:
        return sum(r.duration for r in self.records) / 3600

    def categories(self) -> collections.Counter[str]:
        return collections.Counter(r.labels[0] if r.labels else "unlabelled" for r in self.records)


# ---- fetching -----------------------------------------------------------------------------
def fetch_package(package: str, cache: Path, log: Callable[[str], None] = print) -> Path:
    """``cache/unpacked/<package>``, downloading and unpacking it if not cached.

    Raises:
        RuntimeError: apt-get or dpkg failed (the message says which and why).
    """
    tree = cache / "unpacked" / package
    if (tree / ".complete").is_file():
        return tree
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        log(f"downloading {package} (apt-get download)")
        res = subprocess.run(
            ["apt-get", "download", package], cwd=debs, capture_output=True, text=True
        )
        found = sorted(debs.glob(f"{package}_*.deb"))
        if res.returncode != 0 or not found:
            why = (res.stderr.strip().splitlines() or ["no .deb written"])[-1]
            raise RuntimeError(f"apt-get download {package} failed: {why}")
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    res = subprocess.run(["dpkg", "-x", str(found[-1]), str(tree)], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"dpkg -x {found[-1].name} failed: {res.stderr.strip()}")
    (tree / ".complete").write_text(found[-1].name + "\n")
    return tree


def _version(tree: Path) -> str:
    marker = tree / ".complete"
    name = marker.read_text().strip() if marker.is_file() else ""
    parts = name.split("_")
    return parts[1].replace("%3a", ":") if len(parts) >= 3 else ""


# ---- processing ---------------------------------------------------------------------------
def _clip_stem(name: str) -> str:
    stem = str(Path(name).with_suffix(""))
    return re.sub(r"[^A-Za-z0-9/._-]+", "_", stem).replace("..", "_")


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Bytes of any soundfile-readable file → (mono float32 [N], rate)."""
    with sf.SoundFile(io.BytesIO(data)) as f:
        sr = int(f.samplerate)
        x = f.read(dtype="float32", always_2d=True)
    if x.shape[0] == 0:
        raise ValueError("empty audio (0 samples)")
    if not np.isfinite(x).all():
        raise ValueError("contains NaN or Inf samples")
    return x.mean(axis=1), sr


def process_item(item: SourceItem, data: bytes, out_dir: Path, version: str) -> list[ClipRecord]:
    """Decode, resample, trim, cut and write one source file; raises ValueError if unusable."""
    try:
        x, sr = decode(data)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise ValueError(f"not readable audio ({' '.join(str(err).split())})") from None
    if sr != SAMPLE_RATE:
        x = soxr.resample(x, sr, SAMPLE_RATE, quality="VHQ").astype(np.float32)
    loud = np.nonzero(np.abs(x) > SILENCE)[0]
    if loud.shape[0] == 0:
        raise ValueError("silent")
    pad = int(0.01 * SAMPLE_RATE)
    x = x[max(0, loud[0] - pad) : loud[-1] + pad + 1]
    if x.shape[0] < MIN_CLIP_S * SAMPLE_RATE:
        raise ValueError(f"shorter than {MIN_CLIP_S} s after trimming silence")
    parts = math.ceil(x.shape[0] / (MAX_CLIP_S * SAMPLE_RATE))
    bounds = np.linspace(0, x.shape[0], parts + 1).round().astype(int)
    stem = _clip_stem(item.name)
    records = []
    for k in range(parts):
        seg = x[bounds[k] : bounds[k + 1]]
        suffix = f".part{k + 1:02d}" if parts > 1 else ""
        path = out_dir / "clips" / item.package / f"{stem}{suffix}.flac"
        save_audio(path, seg, SAMPLE_RATE)
        records.append(
            ClipRecord(
                path=str(path.resolve()),
                duration=round(seg.shape[0] / SAMPLE_RATE, 6),
                sample_rate=SAMPLE_RATE,
                channels=1,
                captions=list(item.captions),
                labels=list(item.labels),
                source=item.package,
                license=item.license,
                split=split_for(f"{item.package}/{item.name}"),
                meta={
                    "package": item.package,
                    "version": version,
                    "file": item.name,
                    "part": k + 1,
                    "parts": parts,
                    "offset": round(float(bounds[k]) / SAMPLE_RATE, 4),
                    **({"archive": f"{item.path.name}!{item.member}"} if item.member else {}),
                },
            )
        )
    return records


def _work(job: tuple[SourceItem, str, str]) -> list[ClipRecord] | Skipped:
    item, out_dir, version = job
    where = f"{item.package}:{item.name}"
    try:
        return process_item(item, item.read_bytes(), Path(out_dir), version)
    except _BAD_FILE as err:
        return Skipped(where, " ".join(str(err).split()) or type(err).__name__)


# ---- the whole build ----------------------------------------------------------------------
def build_corpus(
    out_dir: str | os.PathLike[str],
    packages: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 2,
    log: Callable[[str], None] = print,
) -> CorpusReport:
    """Build (or rebuild) the corpus in ``out_dir``; see the module docstring.

    Args:
        out_dir: where clips/, licenses/, manifest.jsonl, skipped.tsv, summary.json go.
        packages: package names (default: all of `PACKAGES`, in order).
        cache_dir: .debs and unpacked trees (default ``out_dir/cache``), reused next time.
        workers: processes decoding and encoding audio.
        log: progress lines.
    """
    out = Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    names = list(packages) if packages is not None else list(PACKAGES)
    unknown = [p for p in names if p not in PACKAGES]
    if unknown:
        raise ValueError(f"no handler for package(s) {unknown}; known: {list(PACKAGES)}")
    status: dict[str, str] = {}
    jobs: list[tuple[SourceItem, str, str]] = []
    seen: dict[str, str] = {}
    duplicates = 0
    skipped: list[Skipped] = []
    for pkg in names:
        try:
            tree = fetch_package(pkg, cache, log)
            for side in SIDE_PACKAGES.get(pkg, ()):
                fetch_package(side, cache, log)
        except (RuntimeError, OSError) as err:
            status[pkg] = str(err)
            log(f"left out {pkg}: {err}")
            continue
        lic = Licenses.of_package(tree, pkg)
        copyright_file = tree / "usr" / "share" / "doc" / pkg / "copyright"
        if copyright_file.is_file():
            (out / "licenses").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(copyright_file, out / "licenses" / f"{pkg}.copyright")
        version = _version(tree)
        count = 0
        for item in PACKAGES[pkg](pkg, tree, lic):
            try:
                digest = hashlib.sha1(item.read_bytes()).hexdigest()
            except _BAD_FILE as err:
                skipped.append(Skipped(f"{pkg}:{item.name}", f"unreadable ({err})"))
                continue
            if digest in seen:
                duplicates += 1
                continue
            seen[digest] = item.name
            jobs.append((item, os.fspath(out), version))
            count += 1
        status[pkg] = "ok"
        log(f"{pkg} {version}: {count} audio files")
    clips_dir = out / "clips"
    if clips_dir.exists():  # a rebuild replaces the clips (the cache is what is kept)
        shutil.rmtree(clips_dir)
    records: list[ClipRecord] = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_work, jobs, chunksize=8))
    else:
        results = [_work(j) for j in jobs]
    for res in results:
        if isinstance(res, Skipped):
            skipped.append(res)
        else:
            records += res
    report = CorpusReport(records, skipped, status, duplicates)
    write_manifest(out / "manifest.jsonl", records)
    write_skip_report(out / "skipped.tsv", skipped)
    _write_summary(out / "summary.json", report)
    return report


def _write_summary(path: Path, report: CorpusReport) -> None:
    per_pkg: dict[str, dict[str, float]] = {}
    for r in report.records:
        d = per_pkg.setdefault(r.source, {"clips": 0, "hours": 0.0})
        d["clips"] += 1
        d["hours"] += r.duration / 3600
    summary = {
        "clips": len(report.records),
        "hours": round(report.hours, 4),
        "categories": dict(report.categories().most_common()),
        "packages": {
            p: {"status": s, **{k: round(v, 4) for k, v in per_pkg.get(p, {}).items()}}
            for p, s in report.packages.items()
        },
        "duplicates_dropped": report.duplicates,
        "skipped": len(report.skipped),
        "splits": dict(collections.Counter(r.split for r in report.records)),
    }
    with atomic_open(path) as fh:
        fh.write((json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode())
