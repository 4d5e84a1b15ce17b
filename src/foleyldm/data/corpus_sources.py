"""What to take from each Debian package, with captions and per-file licences.

A handler walks an unpacked package and yields `SourceItem`s: one audio file (on disk or
inside a ``.pk3``/``.zip``), its captions, labels (the first is its category) and licence.
Licences come from the package's ``debian/copyright``: machine-readable (DEP-5) files are
matched file by file, others are read for the licence they name.
"""

from __future__ import annotations

import fnmatch
import gzip
import importlib
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from foleyldm.data.captions import path_caption, phrase_words, split_words
from foleyldm.data.manifest import AUDIO_SUFFIXES

ARCHIVE_SUFFIXES = (".pk3", ".zip")


@dataclass
class SourceItem:
    """One audio file of a package (``member`` set when it lies inside ``path``, a zip or
    a Qt ``.rcc`` bundle)."""

    package: str
    name: str  # path inside the package, e.g. "hydrogen/data/drumkits/Kit/kick.flac"
    path: Path
    member: str | None = None
    captions: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    license: str = ""

    def read_bytes(self) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        if self.path.suffix == ".rcc":  # a Qt resource bundle (GCompris)
            from foleyldm.data.qt_resources import read_rcc_member

            return read_rcc_member(self.path, self.member)
        with zipfile.ZipFile(self.path) as z:
            return z.read(self.member)


# ---- licences -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LicenseRule:
    patterns: tuple[str, ...]
    license: str


class Licenses:
    """Per-file licences of a package from its copyright file.

    DEP-5 ``Files:`` patterns name paths of the *source* tree, while we see installed paths,
    so a pattern matches when its file part matches the basename and its folders match the
    installed folders from the end, allowing the first (the source tree's top folder, such
    as ``etc/`` or ``base/``) to differ. An archive named in a pattern (``Kit.h2drumkit``)
    stands for the folder it unpacks to. The last matching paragraph wins (DEP-5's rule).
    """

    def __init__(self, text: str, default: str = "") -> None:
        self.rules: list[LicenseRule] = []
        self.default = default
        if text.lstrip().startswith("Format:"):
            self.rules = _parse_dep5(text)
        if not self.rules:
            self.default = guess_license(text) or default

    @classmethod
    def of_package(cls, root: Path, package: str) -> Licenses:
        f = root / "usr" / "share" / "doc" / package / "copyright"
        text = f.read_text(encoding="utf-8", errors="replace") if f.is_file() else ""
        return cls(text, default=f"see /usr/share/doc/{package}/copyright")

    def license_for(self, installed: str) -> str:
        found = self.default
        for rule in self.rules:
            if any(_pattern_matches(p, installed) for p in rule.patterns):
                found = rule.license
        return found

    def license_for_source(self, path: str) -> str:
        """Licence of a path of the *source* tree (``Media/Sounds/Dog.wav``), matched as
        DEP-5 says (``*`` also matches ``/``), for packages that install a source folder
        whole: `license_for` cannot see that ``Media/*`` covers its sub-folders."""
        found = self.default
        for rule in self.rules:
            if any(fnmatch.fnmatchcase(path, p) for p in rule.patterns):
                found = rule.license
        return found


def _parse_dep5(text: str) -> list[LicenseRule]:
    rules = []
    for para in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in para.splitlines():
            if line[:1].isspace() and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields and "license" in fields:
            lic = fields["license"].strip().splitlines()[0].strip()
            rules.append(LicenseRule(tuple(fields["files"].split()), lic))
    return rules


def _pattern_matches(pattern: str, installed: str) -> bool:
    parts = list(PurePosixPath(pattern).parts)
    if parts and parts[-1].endswith((".h2drumkit", ".tar.gz", ".tgz", ".zip")):
        parts = [*parts[:-1], re.sub(r"\.(h2drumkit|tar\.gz|tgz|zip)$", "", parts[-1]), "*"]
    *pdirs, pfile = parts
    ipath = PurePosixPath(installed)
    if not fnmatch.fnmatchcase(ipath.name, pfile):
        return False
    if not pdirs:
        return True
    idirs = list(ipath.parent.parts)
    k = 0
    while k < min(len(pdirs), len(idirs)) and fnmatch.fnmatchcase(idirs[-1 - k], pdirs[-1 - k]):
        k += 1
    return k >= max(1, len(pdirs) - 1)


_LICENSE_TEXTS = (
    (r"Creative Commons Attribution[- ]Share[- ]?Alike (\d\.\d)", "CC-BY-SA-{}"),
    (r"Creative Commons Attribution (\d\.\d)", "CC-BY-{}"),
    (r"GNU General Public License,? (?:as published[^.]*?)?version (\d)[^.]*?(later)", "GPL-{}+"),
    (r"GNU General Public License[^.]*?version (\d)", "GPL-{}"),
    (r"\b(GPL-\d\+?)", "{}"),
    (r"\b(CC0)", "CC0-1.0"),
)


def guess_license(text: str) -> str:
    """The licence a free-text copyright file names, e.g. "GPL-2+"; "" when unclear."""
    flat = " ".join(text.split())
    for pattern, template in _LICENSE_TEXTS:
        m = re.search(pattern, flat, flags=re.IGNORECASE)
        if m:
            return template.format(*m.groups()[:1])
    return ""


# ---- handlers -----------------------------------------------------------------------------
Handler = Callable[[str, Path, Licenses], Iterator[SourceItem]]
GENERIC_FOLDERS = frozenset(
    {
        "usr",
        "share",
        "games",
        "data",
        "base",
        "sound",
        "sounds",
        "samples",
        "sonic-pi",
        "lmms",
        "wesnoth",
        "megaglest",
        "minetest",
        "nexuiz",
        "ufoai",
        "hydrogen",
        "tuxpaint",
        "mods",
        "commondata",
        "stamps",
        "drumkits",
        "campaigns",
        "core",
        "player",
        "misc",
        "1.16",
    }
)


def _installed(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _short(name: str) -> str:
    for prefix in ("usr/share/games/", "usr/share/"):
        name = name.removeprefix(prefix)
    return name


def _from_path(
    item: SourceItem, default: str, extra: dict[str, tuple[str, str | None]] | None = None
) -> SourceItem:
    """Fill unset captions/labels from path words; the category is the vocabulary's, else
    the package's ``default`` (folder names of games make poor categories)."""
    pc = path_caption(item.name, GENERIC_FOLDERS, vocabulary=extra)
    item.captions = item.captions or ([pc.caption] if pc.caption else [])
    item.labels = item.labels or [pc.category or default]
    return item


def audio_files(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """Every audio file of the package, also inside .pk3/.zip archives (captions unset)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = _installed(root, path)
        if "/doc/" in f"/{rel}":
            continue
        suffix = path.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            yield SourceItem(package, _short(rel), path, license=lic.license_for(rel))
        elif suffix in ARCHIVE_SUFFIXES and zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as z:
                    members = sorted(z.namelist())
            except (zipfile.BadZipFile, OSError):
                continue  # a broken archive: nothing to take from it
            for m in members:
                if PurePosixPath(m).suffix.lower() in AUDIO_SUFFIXES:
                    inner = (PurePosixPath(rel).parent / m).as_posix()
                    yield SourceItem(
                        package, _short(inner), path, m, license=lic.license_for(inner)
                    )


def generic(default: str, extra: dict[str, tuple[str, str | None]] | None = None) -> Handler:
    """Path words (folder + stem through the vocabulary, plus ``extra`` words); files the
    vocabulary cannot categorise get the category ``default``."""

    def handler(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
        for item in audio_files(package, root, lic):
            yield _from_path(item, default, extra)

    return handler


_SPOKEN = ("symbols/math/", "symbols/alphabets/", "military/")


def tuxpaint(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """Tux Paint stamps: ``X.ogg`` beside ``X.txt`` (its English description on line 1).
    ``X_<lang>.ogg`` and ``X_desc*.ogg`` are spoken names/descriptions, left out."""
    for item in audio_files(package, root, lic):
        txt = item.path.with_suffix(".txt")
        if item.member is not None or not txt.is_file():
            continue
        lines = [s.strip() for s in txt.read_text(encoding="utf-8", errors="replace").splitlines()]
        text = next((s for s in lines if s and "=" not in s.split(" ")[0]), "")
        if any(s in item.name for s in _SPOKEN):
            item.captions = [f'a voice saying "{text.rstrip(".!")}"'] if text else []
            item.labels = ["speech"]
            yield item
            continue
        pc = path_caption(item.name, GENERIC_FOLDERS)
        item.captions = [c for c in (pc.caption, text) if c]
        yield _from_path(item, "everyday sound")


def hydrogen(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """Hydrogen drum kits: each ``drumkit.xml`` names the instrument of every sample file
    (and its velocity layer); files it does not mention fall back to path words."""
    named: dict[Path, tuple[str, str, str]] = {}
    for xml in sorted(root.rglob("drumkit.xml")):
        try:
            tree = ET.parse(xml)
        except ET.ParseError:
            continue
        for el in tree.iter():  # drop namespaces of newer kit files
            el.tag = el.tag.rsplit("}", 1)[-1]
        kit = (tree.findtext("name") or xml.parent.name).strip()
        for inst in tree.iter("instrument"):
            name = (inst.findtext("name") or "").strip()
            for layer in inst.iter("layer"):
                fname = (layer.findtext("filename") or "").strip()
                if fname:
                    top = float(layer.findtext("max") or 1)
                    low = float(layer.findtext("min") or 0)
                    how = " softly" if top <= 0.5 else " hard" if low >= 0.7 else ""
                    named[(xml.parent / fname).resolve()] = (name, kit, how)
    for item in audio_files(package, root, lic):
        found = named.get(item.path.resolve())
        words, category = phrase_words(split_words(found[0])) if found else ([], None)
        if found and words:
            phrase = " ".join(words)
            item.captions = [f"{phrase} hit{found[2]}", f"{phrase} from the {found[1]} drum kit"]
            item.labels = [category or "drum"]
        yield _from_path(item, "drum")


def asterisk(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """Asterisk telephone prompts: a woman (voice "Allison") speaking; the transcripts are in
    asterisk-core-sounds-en's ``core-sounds-en.txt.gz`` ("name: text"), unpacked beside."""
    transcripts: dict[str, str] = {}
    for f in root.parent.glob("*/usr/share/doc/*/core-sounds-en.txt*"):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if ":" in line and not line.startswith(";"):
                    key, _, text = line.partition(":")
                    transcripts[key.strip()] = text.strip()
    for item in audio_files(package, root, lic):
        parts = PurePosixPath(item.name).with_suffix("").parts
        voice = next((p for p in parts if "_f_" in p or "_m_" in p), "")
        who = "a man" if "_m_" in voice else "a woman"
        key = "/".join(parts[parts.index(voice) + 1 :]) if voice else parts[-1]
        text = transcripts.get(key, "")
        if text.startswith("[") and text.endswith("]"):
            desc = text.strip("[]").strip().removeprefix("this is ").strip()
            item.captions = [desc]
            _, cat = phrase_words(split_words(desc))
            item.labels = [cat or "tone"]
        elif text:
            item.captions = [f'{who} saying "{text}"', f"{who} speaking on the telephone"]
            item.labels = ["speech"]
        elif key.startswith(("digits/", "letters/", "phonetic/")):
            item.captions = [f'{who} saying "{PurePosixPath(key).name.replace("-", " ")}"']
            item.labels = ["speech"]
        if item.labels != ["speech"] and "silence/" in key:
            continue  # the silence prompts hold nothing to learn
        yield _from_path(item, "speech")


#: RTS unit voice lines ("ack", "select") are speech; other words as in the vocabulary.
GAME_WORDS: dict[str, tuple[str, str | None]] = {
    "ack": ("voice acknowledging an order", "speech"),
    "select": ("voice answering", "speech"),
    "attack": ("attack", "combat"),
    "harvest": ("harvesting", "work"),
    "build": ("building", "work"),
    "mine": ("mining", "work"),
}


def _extra(name: str, module: str = "corpus_sources_extra") -> Handler:
    """The handler ``name`` of ``foleyldm.data.<module>`` (`corpus_sources_extra`,
    `corpus_sources_extra2`), imported on first use (those modules import this one)."""

    def handler(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
        found: Handler = getattr(importlib.import_module(f"foleyldm.data.{module}"), name)
        return found(package, root, lic)

    return handler


#: package name -> handler, in build order (the issue's list, then animal-rich libraries,
#: then packages with a few dog barks among other named sounds).
PACKAGES: dict[str, Handler] = {
    "tuxpaint-stamps-default": tuxpaint,
    "sonic-pi-samples": generic("music sample"),
    "hydrogen-drumkits": hydrogen,
    "megaglest-data": generic("game sound effect", GAME_WORDS),
    "ufoai-sound": generic("game sound effect"),
    "wesnoth-1.16-data": generic("game sound effect"),
    "minetest-data": generic("game sound effect"),
    "lmms-common": generic("music sample"),
    "nexuiz-data": generic("game sound effect"),
    "asterisk-core-sounds-en-wav": asterisk,
    "scratch": _extra("scratch"),
    "qabcs-data": _extra("qabcs"),
    "lugaru-data": _extra("lugaru", "corpus_sources_extra2"),
    "scorched3d-data": _extra("scorched3d", "corpus_sources_extra2"),
    "trophy-data": _extra("trophy", "corpus_sources_extra2"),
    "etw-data": _extra("etw", "corpus_sources_extra2"),
    "mate-media-common": _extra("mate_media", "corpus_sources_extra2"),
    "wx3.2-examples": _extra("wx_examples", "corpus_sources_extra2"),
    "hyperrogue-music": _extra("hyperrogue", "corpus_sources_extra2"),
    "xemacs21-basesupport": _extra("xemacs_sounds", "corpus_sources_extra2"),
    "gcompris-qt-data": _extra("gcompris", "corpus_sources_gcompris"),
}
#: packages fetched for their text only (transcripts), not for audio
SIDE_PACKAGES: dict[str, tuple[str, ...]] = {
    "asterisk-core-sounds-en-wav": ("asterisk-core-sounds-en",),
}
