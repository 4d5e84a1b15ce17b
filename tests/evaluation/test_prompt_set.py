"""Prompt sets: reading AudioCaps-style CSVs, and ``foleyldm data prompts`` from a manifest."""

from __future__ import annotations

import csv

import pytest
import soundfile as sf

from foleyldm.data.manifest import ClipRecord, write_manifest
from foleyldm.evaluation.prompt_set import (
    PromptSetError,
    prompts_from_manifest,
    read_prompt_set,
)
from tests.data.cli_util import run_data
from tests.evaluation.audio_fixtures import SR, tone


def clip(path, seconds=0.2):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds=seconds), SR)
    return path


def test_columns_paths_and_names(tmp_path):
    clip(tmp_path / "refs" / "dog.wav")
    clip(tmp_path / "refs" / "sub" / "dog.flac")
    outside = clip(tmp_path.parent / f"{tmp_path.name}-outside" / "rain.wav")
    (tmp_path / "set.csv").write_text(
        "caption,audio,extra\n"
        "a dog barking,refs/dog.wav,x\n"
        "another dog,refs/sub/dog.flac,y\n"
        f'"rain, heavy",{outside},z\n'
    )
    rows = read_prompt_set(tmp_path / "set.csv")
    assert [r.name for r in rows] == ["dog", "dog-00001", "rain"]  # unique names
    assert [r.caption for r in rows] == ["a dog barking", "another dog", "rain, heavy"]
    assert rows[0].path == (tmp_path / "refs" / "dog.wav").resolve()
    assert rows[2].path == outside and [r.index for r in rows] == [0, 1, 2]
    assert len(read_prompt_set(tmp_path / "set.csv", limit=2)) == 2


def test_name_column_is_used_and_must_be_unique(tmp_path):
    clip(tmp_path / "a.wav")
    (tmp_path / "set.csv").write_text("id,caption,path\nY1 x,one,a.wav\nY2,two,a.wav\n")
    assert [r.name for r in read_prompt_set(tmp_path / "set.csv")] == ["Y1_x", "Y2"]
    (tmp_path / "dup.csv").write_text("name,caption,path\nsame,one,a.wav\nsame,two,a.wav\n")
    with pytest.raises(PromptSetError, match="already used"):
        read_prompt_set(tmp_path / "dup.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("caption\na dog\n", "'caption' and a 'path'"),
        ("caption,path\n,a.wav\n", "empty caption"),
        ("caption,path\na dog,missing.wav\n", "not found"),
        ("caption,path\n", "no rows"),
        ("", "no header"),
    ],
)
def test_bad_sets(tmp_path, text, message):
    clip(tmp_path / "a.wav")
    (tmp_path / "set.csv").write_text(text)
    with pytest.raises(PromptSetError, match=message):
        read_prompt_set(tmp_path / "set.csv")


def make_manifest(root):
    records = []
    for i in range(6):
        for folder in ("music", "speech"):  # same file names in two folders
            path = clip(root / folder / "clips" / f"0-{i:06d}.flac")
            records.append(
                ClipRecord(
                    path=str(path),
                    duration=0.2,
                    sample_rate=SR,
                    channels=1,
                    captions=[f"{folder} clip {i}", "second caption"] if i != 5 else [],
                    split="test" if i % 2 == 0 or i == 5 else "train",
                )
            )
    return write_manifest(root / "manifest.jsonl", records)


def test_prompts_from_manifest_split_limit_seed(tmp_path):
    manifest = make_manifest(tmp_path / "corpus")
    out = tmp_path / "sets" / "test.csv"
    rows, uncaptioned = prompts_from_manifest(manifest, out, "test")
    assert uncaptioned == 2 and len(rows) == 6
    assert rows[0].name == "music_clips_0-000000" and rows[1].name == "speech_clips_0-000000"
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert table[0]["caption"] == "music clip 0"
    assert table[0]["path"] == str(tmp_path / "corpus" / "music" / "clips" / "0-000000.flac")
    back = read_prompt_set(out)  # what the benchmark reads
    assert [r.name for r in back] == [r.name for r in rows]

    a, _ = prompts_from_manifest(manifest, tmp_path / "a.csv", "test", limit=3, seed=1)
    b, _ = prompts_from_manifest(manifest, tmp_path / "b.csv", "test", limit=3, seed=1)
    c, _ = prompts_from_manifest(manifest, tmp_path / "c.csv", "test", limit=3, seed=2)
    assert [r.name for r in a] == [r.name for r in b] != [r.name for r in c]
    assert {r.name for r in a} <= {r.name for r in rows}


def test_data_prompts_command(tmp_path, capsys):
    manifest = make_manifest(tmp_path)
    out = tmp_path / "test.csv"
    assert run_data(["prompts", str(manifest), "--split", "test", "-o", str(out)]) == 0
    assert "6 prompts from split test (2 uncaptioned clips left out)" in capsys.readouterr().out
    rows = read_prompt_set(out)
    assert rows[0].path == tmp_path / "music" / "clips" / "0-000000.flac"
    assert "music/clips/0-000000.flac" in out.read_text()  # under the CSV's folder: relative
    assert (
        run_data(["prompts", str(manifest), "--split", "all", "-o", str(out), "--limit", "4"]) == 0
    )
    assert len(read_prompt_set(out)) == 4
    with pytest.raises(PromptSetError, match="no captioned clips"):
        run_data(["prompts", str(manifest), "--split", "valid", "-o", str(out)])
