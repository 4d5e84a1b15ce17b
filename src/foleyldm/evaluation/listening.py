"""Listening tests, data side: create, blind, store OVL/REL ratings, report, export.

A test is one SQLite file. It holds one *stimulus* per (system, prompt): every system's
output for every prompt, under a random id that says nothing about the system. Each rater
gets all stimuli in their own random order (fixed per rater, so a rater who comes back
resumes the same list) and rates each on two scales, as in the AudioLDM questionnaire:
OVL (overall quality) and REL (relevance to the text), integers 1–100.

The report gives, per system and scale, the mean with a 95 % t confidence interval, and for
each pair of systems a significance test: the Wilcoxon signed-rank test on ratings paired
by (rater, prompt) when such pairs exist, else the Mann–Whitney U test; p-values are also
given Holm-corrected over all comparisons of a scale.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import itertools
import math
import os
import random
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foleyldm.errors import FoleyError

SCALES = ("ovl", "rel")
MIN_RATING, MAX_RATING = 1, 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stimuli (
    id TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    path TEXT NOT NULL,
    UNIQUE (system, prompt_id)
);
CREATE TABLE IF NOT EXISTS ratings (
    rater TEXT NOT NULL,
    stimulus_id TEXT NOT NULL REFERENCES stimuli (id),
    ovl INTEGER NOT NULL CHECK (ovl BETWEEN 1 AND 100),
    rel INTEGER NOT NULL CHECK (rel BETWEEN 1 AND 100),
    created TEXT NOT NULL,
    PRIMARY KEY (rater, stimulus_id)
);
"""


class ListeningTestError(FoleyError, ValueError):
    """A test that cannot be created or opened (missing files, bad folders)."""


class RatingError(FoleyError, ValueError):
    """A malformed rating: unknown stimulus, value outside 1–100, not an integer, no rater."""


@dataclass(frozen=True)
class Trial:
    """What a rater sees: a blinded stimulus id and the prompt (never the system)."""

    stimulus_id: str
    prompt: str


@dataclass
class SystemSummary:
    system: str
    n: int
    ovl_mean: float
    ovl_ci95: float
    rel_mean: float
    rel_ci95: float


@dataclass
class Comparison:
    scale: str
    system_a: str
    system_b: str
    test: str
    n: int
    statistic: float
    p_value: float
    p_holm: float = float("nan")


@dataclass
class ListeningReport:
    systems: list[SystemSummary]
    comparisons: list[Comparison]
    raters: int
    ratings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "raters": self.raters,
            "ratings": self.ratings,
            "systems": [asdict(s) for s in self.systems],
            "comparisons": [asdict(c) for c in self.comparisons],
        }

    def to_markdown(self) -> str:
        lines = [
            f"{self.ratings} ratings from {self.raters} raters",
            "",
            "| system | n | OVL (mean ± 95 % CI) | REL (mean ± 95 % CI) |",
            "|---|---|---|---|",
        ]
        for s in self.systems:
            lines.append(
                f"| {s.system} | {s.n} | {s.ovl_mean:.1f} ± {s.ovl_ci95:.1f} | "
                f"{s.rel_mean:.1f} ± {s.rel_ci95:.1f} |"
            )
        if self.comparisons:
            lines += [
                "",
                "| scale | systems | test | n | p | p (Holm) |",
                "|---|---|---|---|---|---|",
            ]
            for c in self.comparisons:
                lines.append(
                    f"| {c.scale.upper()} | {c.system_a} vs {c.system_b} | {c.test} | {c.n} | "
                    f"{c.p_value:.3g} | {c.p_holm:.3g} |"
                )
        return "\n".join(lines)


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95 % Student-t interval); half-width NaN for n < 2."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), float("nan")
    sem = x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(stats.t.ppf(0.975, x.size - 1) * sem)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _check_rating(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise RatingError(f"{name} must be an integer {MIN_RATING}–{MAX_RATING}, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise RatingError(f"{name} must be an integer {MIN_RATING}–{MAX_RATING}, got {value!r}")
        value = int(text)
    if isinstance(value, float):
        if not value.is_integer():
            raise RatingError(f"{name} must be an integer {MIN_RATING}–{MAX_RATING}, got {value!r}")
        value = int(value)
    if not isinstance(value, int | np.integer):
        raise RatingError(f"{name} must be an integer {MIN_RATING}–{MAX_RATING}, got {value!r}")
    if not MIN_RATING <= int(value) <= MAX_RATING:
        raise RatingError(f"{name} must be between {MIN_RATING} and {MAX_RATING}, got {value}")
    return int(value)


class ListeningTest:
    """An OVL/REL listening test stored in one SQLite file."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        """Open an existing test (see `ListeningTest.create`)."""
        self.path = Path(db_path)
        if not self.path.is_file():
            raise ListeningTestError(f"{self.path}: no such listening test")
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA foreign_keys = ON")
        if self._meta("format") != "1":
            raise ListeningTestError(f"{self.path}: not a foleyldm listening test")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ListeningTest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- creation -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        db_path: str | os.PathLike[str],
        systems: Mapping[str, str | os.PathLike[str]],
        prompts: Mapping[str, str],
        seed: int | None = None,
    ) -> ListeningTest:
        """Create a test from ``{system: folder of outputs}`` and ``{prompt id: text}``.

        Each folder must hold one audio file per prompt id, named after it (any audio
        suffix, e.g. ``dog_bark.wav``); other files are ignored. ``seed`` fixes the blinded
        ids and every rater's order (default: random).
        """
        from foleyldm.evaluation.runner import EvalError, list_audio

        path = Path(db_path)
        if path.exists():
            raise ListeningTestError(f"{path}: already exists")
        if len(systems) < 1 or not prompts:
            raise ListeningTestError("a listening test needs at least one system and one prompt")
        rows: list[tuple[str, str, str, str]] = []
        for system, folder in systems.items():
            try:
                files = list_audio(folder)
            except EvalError as err:
                raise ListeningTestError(str(err)) from None
            missing = sorted(set(prompts) - set(files))
            if missing:
                raise ListeningTestError(
                    f"system {system!r} ({folder}) has no output for prompt(s) {missing[:5]}"
                )
            rows += [(system, pid, prompts[pid], str(files[pid].resolve())) for pid in prompts]
        seed = random.SystemRandom().randrange(2**63) if seed is None else seed
        rng = random.Random(seed)
        ids: set[str] = set()
        while len(ids) < len(rows):
            ids.add(f"{rng.getrandbits(48):012x}")
        stimulus_ids = sorted(ids)
        rng.shuffle(stimulus_ids)  # ids carry no order of systems or prompts
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        try:
            with db:
                db.executescript(_SCHEMA)
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format", "1"), ("seed", str(seed)), ("created", _now())],
                )
                db.executemany(
                    "INSERT INTO stimuli VALUES (?, ?, ?, ?, ?)",
                    [(sid, *row) for sid, row in zip(stimulus_ids, rows, strict=True)],
                )
        finally:
            db.close()
        return cls(path)

    # ---- rater side -----------------------------------------------------------------------
    def playlist(self, rater: str) -> list[Trial]:
        """Every stimulus in this rater's own random order (the same each time)."""
        rater = self._check_rater(rater)
        trials = [
            Trial(sid, prompt)
            for sid, prompt in self.db.execute("SELECT id, prompt FROM stimuli ORDER BY id")
        ]
        key = hashlib.sha256(f"{self._meta('seed')}:{rater}".encode()).digest()
        random.Random(int.from_bytes(key[:8], "big")).shuffle(trials)
        return trials

    def audio_path(self, stimulus_id: str) -> Path:
        """The file behind a blinded id (for the server that plays it, not for raters)."""
        row = self.db.execute("SELECT path FROM stimuli WHERE id = ?", (stimulus_id,)).fetchone()
        if row is None:
            raise RatingError(f"unknown stimulus {stimulus_id!r}")
        return Path(row[0])

    def rate(self, rater: str, stimulus_id: str, ovl: Any, rel: Any) -> None:
        """Store (or replace) a rater's OVL and REL for one stimulus.

        Raises:
            RatingError: unknown stimulus, a value that is not an integer 1–100, empty rater.
        """
        rater = self._check_rater(rater)
        values = _check_rating("OVL", ovl), _check_rating("REL", rel)
        if (
            not isinstance(stimulus_id, str)
            or self.db.execute("SELECT 1 FROM stimuli WHERE id = ?", (stimulus_id,)).fetchone()
            is None
        ):
            raise RatingError(f"unknown stimulus {stimulus_id!r}")
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?)",
                (rater, stimulus_id, *values, _now()),
            )

    def progress(self, rater: str) -> tuple[int, int]:
        """(stimuli this rater has rated, stimuli in the test)."""
        done = self.db.execute(
            "SELECT COUNT(*) FROM ratings WHERE rater = ?", (self._check_rater(rater),)
        ).fetchone()[0]
        total = self.db.execute("SELECT COUNT(*) FROM stimuli").fetchone()[0]
        return int(done), int(total)

    # ---- analysis -------------------------------------------------------------------------
    def ratings(self) -> list[dict[str, Any]]:
        """Every rating, unblinded: rater, stimulus_id, system, prompt_id, prompt, ovl, rel."""
        cursor = self.db.execute(
            "SELECT r.rater, r.stimulus_id, s.system, s.prompt_id, s.prompt, r.ovl, r.rel, "
            "r.created FROM ratings r JOIN stimuli s ON s.id = r.stimulus_id "
            "ORDER BY s.system, s.prompt_id, r.rater"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def systems(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT system FROM stimuli ORDER BY 1")]

    def report(self) -> ListeningReport:
        """Per-system means with 95 % CIs and pairwise significance tests."""
        from scipy import stats

        rows = self.ratings()
        by_system: dict[str, dict[str, dict[tuple[str, str], int]]] = {
            s: {scale: {} for scale in SCALES} for s in self.systems()
        }
        for r in rows:
            for scale in SCALES:
                by_system[r["system"]][scale][(r["rater"], r["prompt_id"])] = r[scale]
        summaries = []
        for system, scales in by_system.items():
            ovl = mean_ci95(list(scales["ovl"].values()))
            rel = mean_ci95(list(scales["rel"].values()))
            summaries.append(SystemSummary(system, len(scales["ovl"]), *ovl, *rel))
        comparisons: list[Comparison] = []
        for scale in SCALES:
            mine: list[Comparison] = []
            for a, b in itertools.combinations(by_system, 2):
                ra, rb = by_system[a][scale], by_system[b][scale]
                if not ra or not rb:
                    continue
                shared = sorted(set(ra) & set(rb))
                if shared:
                    x = np.array([ra[k] for k in shared], float)
                    y = np.array([rb[k] for k in shared], float)
                    if np.all(x == y):
                        mine.append(Comparison(scale, a, b, "wilcoxon", len(shared), 0.0, 1.0))
                        continue
                    w = stats.wilcoxon(x, y)
                    mine.append(
                        Comparison(
                            scale,
                            a,
                            b,
                            "wilcoxon",
                            len(shared),
                            float(w.statistic),
                            float(w.pvalue),
                        )
                    )
                else:
                    u = stats.mannwhitneyu(list(ra.values()), list(rb.values()))
                    mine.append(
                        Comparison(
                            scale,
                            a,
                            b,
                            "mann-whitney",
                            len(ra) + len(rb),
                            float(u.statistic),
                            float(u.pvalue),
                        )
                    )
            for c, p in zip(mine, holm([c.p_value for c in mine]), strict=True):
                c.p_holm = p
            comparisons += mine
        raters = len({r["rater"] for r in rows})
        return ListeningReport(summaries, comparisons, raters, len(rows))

    def export_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write every rating (unblinded) as CSV; returns the path."""
        from foleyldm.fileutil import atomic_open

        rows = self.ratings()
        fields = ["rater", "stimulus_id", "system", "prompt_id", "prompt", "ovl", "rel", "created"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        with atomic_open(path) as fh:
            fh.write(buf.getvalue().encode("utf-8"))
        return Path(path)

    # ---- helpers --------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            return None
        return None if row is None else str(row[0])

    @staticmethod
    def _check_rater(rater: Any) -> str:
        if not isinstance(rater, str) or not rater.strip():
            raise RatingError("a rating needs a rater name")
        return rater.strip()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
