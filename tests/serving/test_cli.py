from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from foleyldm.serving.cli import main


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "foleyldm.serving.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_generate_is_byte_identical_across_processes(tmp_path):
    """The acceptance command, twice in fresh processes, then with another seed."""
    for name, seed in (("x.wav", "1"), ("y.wav", "1"), ("z.wav", "2")):
        r = run_cli(
            "generate", "a dog barking", "-o", name, "--model", "tiny", "--seed", seed, cwd=tmp_path
        )
        assert r.returncode == 0, r.stderr
    x, y, z = ((tmp_path / n).read_bytes() for n in ("x.wav", "y.wav", "z.wav"))
    assert x == y
    assert x != z
    info = sf.info(tmp_path / "x.wav")
    assert info.samplerate == 16000
    assert info.frames == round(2.56 * 16000)  # the tiny model's default duration
    assert info.subtype == "PCM_16"


def test_generate_options_and_plot(tmp_path, capsys):
    out = tmp_path / "sub" / "bell.flac"
    rc = main(
        [
            "generate",
            "a bell",
            "-o",
            str(out),
            "--duration",
            "1.3",
            "--steps",
            "2",
            "--seed",
            "3",
            "--sampler",
            "dpmpp-2m",
            "--plot",
            "--quiet",
        ]
    )
    assert rc == 0
    info = sf.info(out)
    assert info.frames == round(1.3 * 16000) and info.format == "FLAC"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_batch_file(tmp_path):
    batch = tmp_path / "prompts.txt"
    batch.write_text("a dog barking|dog\n\n# comment\nrain on a tin roof\n")
    rc = main(
        [
            "generate",
            "--batch-file",
            str(batch),
            "-o",
            str(tmp_path / "outs"),
            "--duration",
            "0.5",
            "--steps",
            "2",
            "--seed",
            "0",
            "--quiet",
        ]
    )
    assert rc == 0
    names = sorted(p.name for p in (tmp_path / "outs").iterdir())
    assert names == ["dog.wav", "rain_on_a_tin_roof.wav"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "", "--seed", "1"], "empty prompt"),
        (["generate", "a", "--duration", "-2"], "audio_length_in_s"),
        (["generate", "a", "--duration", "100000"], "audio_length_in_s"),
        (["generate", "a", "--model", "/no/such/model"], "not found"),
        (["generate", "a", "--model", "nonexistent-model-name"], "not found"),
        (["generate", "a", "-o", "out.mp3"], ".wav or .flac"),
    ],
)
def test_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    rc = main([*args, "--steps", "1"] if args[0] == "generate" else args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_unreachable_hub_id_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = main(["generate", "a", "--model", "cvssp/audioldm-s-full-v2", "--steps", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "cvssp/audioldm-s-full-v2" in err[0] and "local folder" in err[0]


def test_unknown_sampler_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate", "a", "--sampler", "nope"])
    assert e.value.code == 2


def test_info_prints_components(capsys):
    assert main(["info", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "UNet2DConditionModel" in out and "SpeechT5HifiGan" in out and "M params" in out


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "(default: foley-small)" in out and "--candidates" in out
