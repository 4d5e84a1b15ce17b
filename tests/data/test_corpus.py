"""`build-corpus` on tiny fake Debian packages built by the test (dpkg-deb; no network)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleyldm.data.corpus import build_corpus
from foleyldm.data.corpus_sources import PACKAGES, Licenses, guess_license
from foleyldm.data.manifest import read_manifest
from foleyldm.data.qt_resources import ResourceError, parse_rcc, rcc_names, read_rcc_member
from tests.data.cli_util import run_data

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None or shutil.which("dpkg") is None, reason="needs dpkg"
)
SR = 22050


def audio(seconds: float, freq: float = 440.0, fmt: str = "WAV", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape[0])
    buf = io.BytesIO()
    sf.write(buf, np.stack([x, x], axis=1), SR, format=fmt)
    return buf.getvalue()


def put(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


DEP5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
DRUMKIT = """<?xml version="1.0"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name>
 <instrumentList>
  <instrument><name>Snare Rock</name>
   <layer><filename>sn_soft.flac</filename><min>0</min><max>0.5</max></layer>
   <layer><filename>sn_hard.flac</filename><min>0.7</min><max>1</max></layer>
  </instrument>
  <instrument><name>32</name><layer><filename>Kick_Low.flac</filename></layer></instrument>
 </instrumentList>
</drumkit_info>
"""


def fake_packages(tmp: Path) -> Path:
    """Four small packages as .deb files in a cache's debs/ folder."""
    trees: dict[str, Path] = {}

    def tree(name: str, copyright_text: str) -> Path:
        root = tmp / "src" / name
        put(root, f"usr/share/doc/{name}/copyright", copyright_text)
        trees[name] = root
        return root

    t = tree("tuxpaint-stamps-default", DEP5 + "Files: *\nCopyright: 2002 B K\nLicense: GPL-2\n")
    stamps = "usr/share/tuxpaint/stamps"
    put(t, f"{stamps}/animals/dogs/dog.ogg", audio(1.0, fmt="OGG"))
    put(t, f"{stamps}/animals/dogs/dog.txt", "A dog.\nde.utf8=Ein Hund.\n")
    put(t, f"{stamps}/animals/dogs/dog_de.ogg", audio(1.0, 300, fmt="OGG"))  # spoken name
    put(t, f"{stamps}/symbols/math/2.wav", audio(0.5, 500))
    put(t, f"{stamps}/symbols/math/2.txt", "Two.\n")

    h = tree(
        "hydrogen-drumkits",
        DEP5 + "Files: *\nLicense: GPL-2\n\nFiles:\n drumkits/Other.h2drumkit\n"
        " drumkits/TestKit.h2drumkit\nCopyright: Someone\nLicense: CC-BY-3.0\n",
    )
    kit = "usr/share/hydrogen/data/drumkits/TestKit"
    put(h, f"{kit}/drumkit.xml", DRUMKIT)
    put(h, f"{kit}/sn_soft.flac", audio(0.4, 200, "FLAC", 1))
    put(h, f"{kit}/sn_hard.flac", audio(0.4, 210, "FLAC", 2))
    put(h, f"{kit}/Kick_Low.flac", audio(0.4, 60, "FLAC", 3))
    put(h, f"{kit}/beats_01.flac", audio(0.6, 90, "FLAC", 4))

    n = tree(
        "nexuiz-data",
        "This package is free software; you can redistribute it under the terms of the GNU "
        "General Public License as published by the FSF; either version 2 of the License, or "
        "(at your option) any later version.\n",
    )
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("sound/weapons/rocket_fire.ogg", audio(0.8, 700, "OGG", 5))
        z.writestr("sound/ambient/wind_long.wav", audio(25.0, 150, seed=6))  # → 3 clips
        z.writestr("sound/misc/broken.wav", b"RIFF....WAVEfmt garbage" * 5)
        z.writestr("sound/misc/silence.wav", audio(0.0) + b"")
        z.writestr("textures/wall.tga", b"not audio")
        z.writestr("sound/misc/badcrc.wav", bad := audio(0.3, 880, seed=7))
    blob = bytearray(pk3.getvalue())
    at = bytes(blob).find(bad) + len(bad) // 2
    blob[at] ^= 0xFF  # the member's CRC no longer matches: zipfile raises on reading it
    put(n, "usr/share/games/nexuiz/data/data.pk3", bytes(blob))
    put(
        n,
        "usr/share/games/nexuiz/data/zz_copy_of_rocket.ogg",
        zipfile.ZipFile(pk3).read("sound/weapons/rocket_fire.ogg"),
    )  # a byte-identical duplicate

    a = tree("asterisk-core-sounds-en-wav", DEP5 + "Files: *\nLicense: CC-BY-SA-3.0\n")
    put(a, "usr/share/asterisk/sounds/en_US_f_Allison/auth-thankyou.wav", audio(0.7, 330))
    put(a, "usr/share/asterisk/sounds/en_US_f_Allison/beep.wav", audio(0.3, 1000))
    zeros = io.BytesIO()
    sf.write(zeros, np.zeros(SR // 2), SR, format="WAV")
    put(a, "usr/share/asterisk/sounds/en_US_f_Allison/silence/1.wav", zeros.getvalue())
    s = tree("asterisk-core-sounds-en", DEP5 + "Files: *\nLicense: CC-BY-SA-3.0\n")
    put(
        s,
        "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz",
        gzip.compress(
            b"; Core sounds\nauth-thankyou: Thank you.\nbeep: [this is a simple beep tone]\n"
        ),
    )

    debs = tmp / "cache" / "debs"
    debs.mkdir(parents=True)
    for name, root in trees.items():
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(
            f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.org>\n"
            "Description: test package\n"
        )
        subprocess.run(
            [
                "dpkg-deb",
                "-Znone",
                "--root-owner-group",
                "-b",
                str(root),
                str(debs / f"{name}_1.0-1_all.deb"),
            ],
            check=True,
            capture_output=True,
        )
    return tmp / "cache"


@pytest.fixture
def no_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An apt-get on PATH that always fails, as with no network or unknown packages."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text("#!/bin/sh\necho 'E: Unable to locate package' \"$2\" >&2\nexit 100\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


PKGS = [
    "tuxpaint-stamps-default",
    "hydrogen-drumkits",
    "nexuiz-data",
    "asterisk-core-sounds-en-wav",
]


def test_build_corpus_from_fake_packages(tmp_path: Path, no_apt: None) -> None:
    cache = fake_packages(tmp_path)
    out = tmp_path / "corpus"
    logs: list[str] = []
    rep = build_corpus(out, [*PKGS, "ufoai-sound"], cache, workers=2, log=logs.append)
    assert rep.packages["ufoai-sound"].startswith("apt-get download ufoai-sound failed")
    assert all(rep.packages[p] == "ok" for p in PKGS)
    recs = read_manifest(out / "manifest.jsonl")
    by = {(Path(r.meta["file"]).name, r.meta["part"]): r for r in recs}
    # every clip: 16 kHz mono FLAC of at most 10.24 s
    for r in recs:
        info = sf.info(r.path)
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert info.duration <= 10.24 + 1e-6 and Path(r.path).is_relative_to(out / "clips")
    dog = by[("dog.ogg", 1)]
    assert dog.captions == ["dog barking", "A dog."] and dog.labels == ["dog"]
    assert (dog.license, dog.source, dog.meta["version"]) == (
        "GPL-2",
        "tuxpaint-stamps-default",
        "1.0-1",
    )
    assert ("dog_de.ogg", 1) not in by  # spoken names are left out
    assert by[("2.wav", 1)].captions == ['a voice saying "Two"'] and by[("2.wav", 1)].labels == [
        "speech"
    ]
    soft, hard = by[("sn_soft.flac", 1)], by[("sn_hard.flac", 1)]
    assert (
        soft.captions[0] == "snare drum rock hit softly"
        and hard.captions[0] == "snare drum rock hit hard"
    )
    assert "from the Test Kit drum kit" in soft.captions[1] and soft.labels == ["snare drum"]
    assert soft.license == "CC-BY-3.0"
    assert by[("Kick_Low.flac", 1)].labels == ["kick drum"]  # numeric name: path words
    assert by[("beats_01.flac", 1)].labels == ["drum loop"]
    wind = [by[("wind_long.wav", k)] for k in (1, 2, 3)]
    assert [w.meta["parts"] for w in wind] == [3, 3, 3]
    assert sum(w.duration for w in wind) == pytest.approx(25.0, abs=0.05)
    assert len({w.split for w in wind}) == 1  # parts of one file share a split
    assert wind[0].captions == ["wind"] and wind[0].license == "GPL-2+"
    assert wind[1].meta["archive"] == "data.pk3!sound/ambient/wind_long.wav"
    assert by[("rocket_fire.ogg", 1)].labels == ["rocket"]
    assert ("zz_copy_of_rocket.ogg", 1) not in by and rep.duplicates == 1
    thanks = by[("auth-thankyou.wav", 1)]
    assert thanks.captions[0] == 'a woman saying "Thank you."' and thanks.labels == ["speech"]
    assert by[("beep.wav", 1)].captions == ["a simple beep tone"]
    assert not any("silence" in r.meta["file"] for r in recs)
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in rep.skipped}
    assert set(skipped) == {"broken.wav", "silence.wav", "badcrc.wav"}
    assert "CRC" in skipped["badcrc.wav"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clips"] == len(recs) == 12
    assert summary["categories"]["speech"] == 2
    assert (out / "licenses" / "hydrogen-drumkits.copyright").is_file()
    assert len((out / "skipped.tsv").read_text().splitlines()) == 3
    # a rebuild reuses the unpacked cache and gives the same manifest
    before = len(logs)
    again = build_corpus(out, PKGS, cache, workers=1, log=logs.append)
    assert [r.captions for r in again.records] == [r.captions for r in recs]
    assert not any("downloading" in line for line in logs[before:])


def test_cli_build_corpus(tmp_path: Path, no_apt: None, capsys: pytest.CaptureFixture[str]) -> None:
    cache = fake_packages(tmp_path)
    argv = [
        "build-corpus",
        str(tmp_path / "c"),
        "--cache",
        str(cache),
        "--workers",
        "1",
        "--packages",
        "hydrogen-drumkits",
        "nexuiz-data",
    ]
    assert run_data(argv) == 0
    out = capsys.readouterr().out
    assert "8 clips" in out and "largest categories: " in out
    with pytest.raises(ValueError, match="no handler"):
        run_data(["build-corpus", str(tmp_path / "c"), "--packages", "emacs"])


def test_dep5_matching_and_free_text_licences() -> None:
    lic = Licenses(
        DEP5 + "Files: *\nLicense: GPL-2+\n\nFiles: *.ogg\nLicense: CC-BY-SA-3.0\n\n"
        "Files: mtg/mods/doors/sounds/*\nLicense: CC-BY-3.0\n\n"
        "Files: etc/samples/ambi_choir.flac\nLicense: CC0\n\nFiles: debian/*\nLicense: MIT\n"
    )
    games = "usr/share/games/minetest/games/minetest_game/mods"
    assert lic.license_for(f"{games}/doors/sounds/door_open.ogg") == "CC-BY-3.0"
    assert lic.license_for(f"{games}/default/sounds/dig.ogg") == "CC-BY-SA-3.0"
    assert lic.license_for("usr/share/sonic-pi/samples/ambi_choir.flac") == "CC0"
    assert lic.license_for("usr/share/x/readme.wav") == "GPL-2+"
    assert guess_license("under the GNU General Public License version 2 or later") == "GPL-2+"
    assert guess_license("Creative Commons Attribution-ShareAlike 3.0 Unported") == "CC-BY-SA-3.0"
    assert guess_license("all rights reserved") == ""


def test_scratch_and_qabcs_handlers(tmp_path: Path) -> None:
    s = tmp_path / "scratch"
    put(
        s,
        "usr/share/doc/scratch/copyright",
        DEP5
        + "Files: *\nLicense: GPL-2\n\nFiles: Help/* Media/* Projects\nLicense: CC-BY-SA-3.0\n",
    )
    snd = "usr/share/scratch/Media/Sounds"
    for rel in (
        "Animal/Dog1.wav",
        "Animal/SeaLion.mp3",
        "Human/Cough-female.wav",
        "Effects/DoorCreak.wav",
        "Electronic/Laser1.wav",
        "Vocals/Sing-me-a-song.mp3",
        "Music Loops/Techno2.mp3",
        "Music Loops/Garden.mp3",
    ):
        put(s, f"{snd}/{rel}", b"audio")
    put(s, "usr/share/scratch/Help/click.wav", b"audio")  # not the sound library
    lic = Licenses.of_package(s, "scratch")
    got = {Path(i.name).name: i for i in PACKAGES["scratch"]("scratch", s, lic)}
    assert "click.wav" not in got and len(got) == 8
    assert got["Dog1.wav"].captions == ["a dog barking", "dog"] and got["Dog1.wav"].labels == [
        "dog"
    ]
    assert got["SeaLion.mp3"].captions[0] == "a sea lion barking"
    assert got["Cough-female.wav"].captions[0] == "a woman coughing"
    assert got["DoorCreak.wav"].captions[0] == "a door creaking"
    assert got["Laser1.wav"].labels == ["laser"]  # names found nowhere: path vocabulary
    assert got["Sing-me-a-song.mp3"].captions[0] == 'a voice singing "sing me a song"'
    assert got["Techno2.mp3"].captions[0] == "a techno music loop"
    assert got["Garden.mp3"].captions[0] == "a music loop"
    assert {i.license for i in got.values()} == {"CC-BY-SA-3.0"}  # Media/* reaches sub-folders

    q = tmp_path / "qabcs"
    put(q, "usr/share/doc/qabcs-data/copyright", DEP5 + "Files: *\nLicense: GPL-3+\n")
    base = "usr/share/qabcs/abcs/all"
    for name, group in (
        ("cow", "animals"),
        ("zebra", "animals"),
        ("eagle-owl", "animals"),
        ("cheburashka", "toys"),
        ("helicopter", "toys"),
        ("grand_piano", "instrument"),
        ("maracas", "instrument"),
    ):
        put(q, f"{base}/noises/{name}.ogg", b"audio")
        put(q, f"{base}/pics/{group}/{name}.png", b"png")
    put(q, "usr/share/qabcs/abcs/en/sounds/alpha/a.ogg", b"audio")  # spoken letters: left out
    lic = Licenses.of_package(q, "qabcs-data")
    got = {Path(i.name).stem: i for i in PACKAGES["qabcs-data"]("qabcs-data", q, lic)}
    assert set(got) == {"cow", "zebra", "eagle-owl", "helicopter", "grand_piano", "maracas"}
    assert got["cow"].captions == ["a cow mooing", "the sound of a cow"]
    assert got["cow"].labels == ["cattle"] and got["cow"].license == "GPL-3+"
    assert got["eagle-owl"].captions[0] == "an eagle owl hooting"
    assert got["zebra"].captions == ["the sound of a zebra"] and got["zebra"].labels == ["animal"]
    assert got["helicopter"].labels == ["aircraft"]
    assert got["grand_piano"].captions[0] == "a grand piano being played"
    assert got["grand_piano"].labels == ["piano"]
    assert got["maracas"].captions[1] == "the sound of maracas"
    assert got["maracas"].labels == ["musical instrument"]


def test_source_tree_licences() -> None:
    lic = Licenses(DEP5 + "Files: *\nLicense: GPL-2\n\nFiles: Media/*\nLicense: CC-BY-SA-3.0\n")
    assert lic.license_for_source("Media/Sounds/Animal/Dog1.wav") == "CC-BY-SA-3.0"
    assert lic.license_for_source("src/Media.c") == "GPL-2"
    # installed-path matching keeps its one-folder reading of "Media/*"
    assert lic.license_for("usr/share/scratch/Media/Sounds/Animal/Dog1.wav") == "GPL-2"


def test_named_dog_sound_handlers(tmp_path: Path) -> None:
    lug = tmp_path / "lugaru"
    put(
        lug,
        "usr/share/doc/lugaru-data/copyright",
        DEP5 + "Files: *\nLicense: GPL-2+\n\nFiles: Data/*\nLicense: CC-BY-SA-3.0\n",
    )
    for name in ("Bark2.ogg", "BarkGrowl.ogg", "Music1Snow.ogg", "Mystery.ogg", "notes.txt"):
        put(lug, f"usr/share/games/lugaru/Sounds/{name}", b"audio")
    lic = Licenses.of_package(lug, "lugaru-data")
    got = {Path(i.name).stem: i for i in PACKAGES["lugaru-data"]("lugaru-data", lug, lic)}
    assert set(got) == {"Bark2", "BarkGrowl", "Music1Snow", "Mystery"}  # the whole folder
    assert got["Bark2"].captions == ["a dog barking", "dog"] and got["Bark2"].labels == ["dog"]
    assert got["BarkGrowl"].captions[0] == "a dog barking"
    assert got["Music1Snow"].labels == ["music"]
    assert got["Mystery"].labels == ["game sound effect"]  # unknown: the path captioner
    assert {i.license for i in got.values()} == {"CC-BY-SA-3.0"}  # Data/ installed elsewhere

    s3d = tmp_path / "scorched3d"
    put(
        s3d,
        "usr/share/doc/scorched3d-data/copyright",
        DEP5 + "Files: *\nLicense: GPL-2+\n\nFiles: data/globalmods/apoc/*\nLicense: CC-BY-SA-3\n",
    )
    mods = "usr/share/games/scorched3d/data/globalmods"
    for rel in ("apoc/data/wav/misc/dog3.wav", "apoc/data/wav/misc/t38.wav"):
        put(s3d, f"{mods}/{rel}", b"audio")
    put(s3d, f"{mods}/none/data/wav/misc/rooster.wav", b"audio")
    put(s3d, f"{mods}/none/data/wav/shoot/dog.wav", b"audio")  # not a misc/ folder
    lic = Licenses.of_package(s3d, "scorched3d-data")
    items = list(PACKAGES["scorched3d-data"]("scorched3d-data", s3d, lic))
    got = {i.name.split("globalmods/")[1]: i for i in items}
    assert set(got) == {"apoc/data/wav/misc/dog3.wav", "none/data/wav/misc/rooster.wav"}
    assert got["apoc/data/wav/misc/dog3.wav"].captions[0] == "a dog barking"
    assert got["apoc/data/wav/misc/dog3.wav"].license == "CC-BY-SA-3"
    assert got["none/data/wav/misc/rooster.wav"].captions[0] == "a rooster crowing"
    assert got["none/data/wav/misc/rooster.wav"].license == "GPL-2+"

    wx = tmp_path / "wx"
    put(wx, "usr/share/doc/wx3.2-examples/copyright", DEP5 + "Files: *\nLicense: wxWindows\n")
    for name in ("doggrowl.wav", "9000g.wav"):
        put(wx, f"usr/share/doc/wx3.2-examples/examples/samples/sound/{name}", b"audio")
    lic = Licenses.of_package(wx, "wx3.2-examples")
    items = list(PACKAGES["wx3.2-examples"]("wx3.2-examples", wx, lic))
    assert [(Path(i.name).name, i.captions[0], i.license) for i in items] == [
        ("doggrowl.wav", "a dog growling", "wxWindows")  # found though under usr/share/doc
    ]


def write_rcc(files: dict[str, bytes], compress: bool = True) -> bytes:
    """A version-2 Qt resource bundle of ``files`` (``{"/a/b.ogg": bytes}``), each compressed
    with zlib when ``compress`` (flag 1; directories: flag 2): the inverse of `parse_rcc`."""
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
            tree += struct.pack(">IHII", name_offset, 2, len(children), len(nodes))
            nodes.extend(children)
        else:
            assert isinstance(value, bytes)
            body = struct.pack(">I", len(value)) + zlib.compress(value) if compress else value
            tree += struct.pack(">IHHHI", name_offset, 1 if compress else 0, 0, 0, len(data))
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


def test_qt_resource_bundles_round_trip_and_reject_other_files(tmp_path: Path) -> None:
    files = {"/gcompris/src/a/dog.ogg": b"bark" * 50, "/gcompris/src/b/x.wav": b"", "/t": b"t"}
    for compress in (True, False):
        assert parse_rcc(write_rcc(files, compress)) == files
        bundle = tmp_path / f"b{compress}.rcc"
        bundle.write_bytes(write_rcc(files, compress))
        assert rcc_names(bundle) == sorted(files)
        assert all(read_rcc_member(bundle, name) == data for name, data in files.items())
        with pytest.raises(KeyError, match=r"missing\.ogg"):
            read_rcc_member(bundle, "/missing.ogg")
    with pytest.raises(ResourceError, match="qres"):
        parse_rcc(b"PK\x03\x04 a zip, not a bundle")


def test_gcompris_sounds_come_out_of_its_qt_bundles(tmp_path: Path) -> None:
    root = tmp_path / "gcompris"
    put(
        root,
        "usr/share/doc/gcompris-qt-data/copyright",
        DEP5 + "Files: *\nLicense: GPL-3+\n\n"
        "Files: src/activities/explore_farm_animals/resource/animals/*\nLicense: GPL-3\n\n"
        "Files: src/activities/instruments/resource/drum_kit.ogg\n"
        "License: CC-sampling-plus-1.0\n",
    )
    farm = "/gcompris/src/activities/explore_farm_animals/resource/animals"
    bark = audio(0.5, 400, fmt="OGG")
    bundles = {
        "explore_farm_animals": {
            f"{farm}/dog.ogg": bark,
            f"{farm}/dog.webp": b"RIFF....WEBP",  # the picture of the same name
            f"{farm}/README": b"licences",
        },
        "instruments": {
            "/gcompris/src/activities/instruments/resource/violin.ogg": audio(0.5, 440, fmt="OGG"),
            "/gcompris/src/activities/instruments/resource/drum_kit.ogg": bark,  # CC Sampling+
            "/gcompris/src/activities/instruments/resource/kazoo.ogg": bark,  # not named
        },
    }
    for name, files in bundles.items():
        put(root, f"usr/share/gcompris-qt/rcc/{name}.rcc", write_rcc(files))
    lic = Licenses.of_package(root, "gcompris-qt-data")
    got = {
        Path(i.name).stem: i for i in PACKAGES["gcompris-qt-data"]("gcompris-qt-data", root, lic)
    }
    assert set(got) == {"dog", "violin"}
    dog, violin = got["dog"], got["violin"]
    assert dog.captions == ["a dog barking", "dog"] and dog.labels == ["dog"]
    assert (dog.license, violin.license) == ("GPL-3", "GPL-3+")
    assert violin.captions[0] == "a violin playing" and violin.labels == ["violin"]
    assert dog.name == "gcompris-qt/rcc/explore_farm_animals.rcc/dog.ogg"
    assert dog.read_bytes() == bark  # read back out of the bundle
    x, sr = sf.read(io.BytesIO(violin.read_bytes()))
    assert sr == SR and len(x) == SR // 2
