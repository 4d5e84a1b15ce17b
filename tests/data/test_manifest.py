"""Manifests from a small tree of audio the test writes: captions, splits, skip report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleyldm.data.captions import path_caption, split_words, strip_variants
from foleyldm.data.manifest import (
    ClipRecord,
    build_manifest,
    read_manifest,
    split_for,
    write_manifest,
)
from foleyldm.serving import cli
from tests.data.cli_util import run_data


def tone(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr)
    return path


def make_tree(root: Path) -> dict[str, Path]:
    """A folder with every caption source and five kinds of bad file."""
    files = {
        "dog": tone(root / "animals" / "dogs" / "dog_bark_02.wav"),
        "rain": tone(root / "weather" / "Rain-Heavy_v2.flac", seconds=1.0, sr=22050, channels=2),
        "txt": tone(root / "misc" / "thing.wav"),
        "json": tone(root / "misc" / "other.ogg"),
        "audiocaps": tone(root / "ac" / "Yabcdefghijk.wav"),
        "audioldm": tone(root / "ldm" / "clip7.wav"),
    }
    (root / "misc" / "thing.txt").write_text(
        "A door creaks open.\nde.utf8=Eine Tür knarrt.\n\n# comment\nA creaking door.\n"
    )
    (root / "misc" / "other.json").write_text(
        json.dumps({"caption": "glass breaking", "labels": ["glass"], "license": "CC0"})
    )
    (root / "ac.csv").write_text(
        "audiocap_id,youtube_id,start_time,caption\n"
        "91,abcdefghijk,30,A man speaks over wind\n"
        "92,abcdefghijk,30,Wind blows while a man talks\n"
    )
    (root / "train.json").write_text(
        json.dumps(
            {
                "data": [
                    {
                        "wav": "ldm/clip7.wav",
                        "caption": "an engine idles",
                        "caption_2": "a motor running",
                        "labels": "/m/02mk9,/m/07yv9",
                    }
                ]
            }
        )
    )
    bad = root / "bad"
    bad.mkdir()
    (bad / "garbage.wav").write_bytes(b"RIFF this is not really a wave file at all" * 10)
    (bad / "empty.wav").write_bytes(b"")
    sf.write(bad / "noframes.wav", np.zeros((0,), dtype=np.float32), 16000)
    sf.write(bad / "nan.wav", np.array([0.1, np.nan, 0.2], dtype=np.float32), 16000, "FLOAT")
    (bad / "truncated.flac").write_bytes(
        Path(tone(root / "tmp.flac", seconds=2.0)).read_bytes()[:3000]
    )
    (root / "tmp.flac").unlink()
    sf.write(bad / "silent.wav", np.zeros(800, dtype=np.float32), 16000)
    (root / "notes.md").write_text("not audio, ignored")
    return files


def test_path_words() -> None:
    assert split_words("EE_Kick_Lite_1") == ["ee", "kick", "lite"]
    assert split_words("WaterglassLo") == ["waterglass", "lo"]
    assert strip_variants(split_words("door_open_alt_b3")) == ["door", "open"]
    c = path_caption("sounds/animals/dogs/dog_bark_02.wav")
    assert c.caption == "dog barking" and c.category == "dog"
    c = path_caption("weapons/expl_big_02.wav")
    assert c.caption == "weapons explosion big" and c.category == "explosion"
    c = path_caption("samples/bd_haus.flac")  # filler folder dropped, abbreviation expanded
    assert c.caption == "bass drum haus" and c.category == "kick drum"


def test_split_is_deterministic_and_proportional() -> None:
    keys = [f"folder/clip_{i}.wav" for i in range(4000)]
    first = [split_for(k, 0.1, 0.05) for k in keys]
    assert first == [split_for(k, 0.1, 0.05) for k in keys]
    frac = {s: first.count(s) / len(keys) for s in ("train", "valid", "test")}
    assert abs(frac["valid"] - 0.1) < 0.02 and abs(frac["test"] - 0.05) < 0.015
    with pytest.raises(ValueError):
        split_for("x", 0.7, 0.5)


def test_build_manifest_captions_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    files = make_tree(root)
    rep = build_manifest(
        root,
        audiocaps_csv=[root / "ac.csv"],
        audioldm_json=[root / "train.json"],
        source="mylib",
        license="CC-BY-4.0",
        workers=3,
    )
    by = {Path(r.path).name: r for r in rep.records}
    assert sorted(by) == sorted(p.name for p in files.values())
    dog = by["dog_bark_02.wav"]
    assert dog.captions == ["dog barking"] and dog.labels == ["dog"]
    assert (dog.sample_rate, dog.channels, dog.source, dog.license) == (
        16000,
        1,
        "mylib",
        "CC-BY-4.0",
    )
    assert dog.duration == pytest.approx(0.5)
    rain = by["Rain-Heavy_v2.flac"]
    assert (rain.sample_rate, rain.channels) == (22050, 2)
    assert rain.captions == ["weather rain heavy"] and rain.labels == ["rain"]
    assert by["thing.wav"].captions == ["A door creaks open.", "A creaking door."]
    other = by["other.ogg"]
    assert (other.captions, other.labels, other.license) == (["glass breaking"], ["glass"], "CC0")
    assert by["Yabcdefghijk.wav"].captions == [
        "A man speaks over wind",
        "Wind blows while a man talks",
    ]
    ldm = by["clip7.wav"]
    assert ldm.captions == ["an engine idles", "a motor running"]
    assert ldm.labels == ["/m/02mk9", "/m/07yv9"]
    reasons = {Path(s.path).name: s.reason for s in rep.skipped}
    assert set(reasons) == {
        "garbage.wav",
        "empty.wav",
        "noframes.wav",
        "nan.wav",
        "truncated.flac",
        "silent.wav",
    }
    assert "empty" in reasons["noframes.wav"] and "NaN" in reasons["nan.wav"]
    assert "silent" in reasons["silent.wav"] and "not readable" in reasons["garbage.wav"]
    for r in rep.records:
        assert r.split == split_for(Path(r.path).relative_to(root).as_posix())


def test_manifest_round_trip_relative_paths(tmp_path: Path) -> None:
    clip = tone(tmp_path / "corpus" / "clips" / "a.wav")
    rec = ClipRecord(str(clip), 0.5, 16000, 1, ["x"], ["y"], "s", "CC0", "valid", {"pkg": "p"})
    outside = ClipRecord("/elsewhere/b.wav", 1.0, 16000, 1)
    man = write_manifest(tmp_path / "corpus" / "manifest.jsonl", [rec, outside])
    lines = [json.loads(line) for line in man.read_text().splitlines()]
    assert lines[0]["path"] == "clips/a.wav" and lines[0]["meta"] == {"pkg": "p"}
    assert lines[1]["path"] == "/elsewhere/b.wav" and "meta" not in lines[1]
    moved = tmp_path / "moved"
    (tmp_path / "corpus").rename(moved)
    back = read_manifest(moved / "manifest.jsonl")
    assert back[0].path == str(moved / "clips" / "a.wav") and Path(back[0].path).is_file()
    assert back[0].meta == {"pkg": "p"} and back[0].category == "y"
    assert [r.path for r in read_manifest(moved / "manifest.jsonl", split="valid")] == [
        back[0].path
    ]


def test_cli_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "lib"
    make_tree(root)
    out = tmp_path / "m.jsonl"
    assert run_data(["manifest", str(root), "-o", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "6 clips" in captured.out and "skipped 6" in captured.err
    assert len(read_manifest(out)) == 6
    report = (tmp_path / "m.skipped.tsv").read_text().splitlines()
    assert len(report) == 6 and all("\t" in line for line in report)


def test_data_command_registered() -> None:
    assert "foleyldm.serving.commands.data" in cli._COMMAND_MODULES
