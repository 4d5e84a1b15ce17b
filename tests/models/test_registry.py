from __future__ import annotations

import pytest

from foleyldm.errors import ModelNotFoundError
from foleyldm.models.registry import RELEASES, cache_dir, resolve_release
from foleyldm.serving.cli import main


def test_release_names():
    assert set(RELEASES) == {
        "audioldm-s-full",
        "audioldm-s-full-v2",
        "audioldm-m-full",
        "audioldm-l-full",
        "audioldm-s-text-ft",
        "audioldm-m-text-ft",
    }
    assert RELEASES["audioldm-s-full-v2"].hub_id == "cvssp/audioldm-s-full-v2"
    assert RELEASES["audioldm-m-text-ft"].hub_id is None


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FOLEYLDM_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_missing_release_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("FOLEYLDM_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as e:
        resolve_release("audioldm-m-text-ft")
    msg = str(e.value)
    assert "audioldm-m-text-ft.ckpt" in msg and str(tmp_path) in msg and "\n" not in msg
    with pytest.raises(ModelNotFoundError, match="cvssp/audioldm-s-full-v2"):
        resolve_release("audioldm-s-full-v2")  # HF_HUB_OFFLINE=1 in tests


def test_generate_with_a_release_name_present_locally(monkeypatch, tmp_path, tiny_pipe):
    """`--model audioldm-s-full-v2` runs when the (converted) files are in the cache."""
    monkeypatch.setenv("FOLEYLDM_CACHE", str(tmp_path / "cache"))
    tiny_pipe.save_pretrained(tmp_path / "cache" / "audioldm-s-full-v2")
    out = tmp_path / "x.wav"
    rc = main(
        [
            "generate",
            "a dog",
            "--model",
            "audioldm-s-full-v2",
            "-o",
            str(out),
            "--steps",
            "2",
            "--duration",
            "1",
            "--seed",
            "0",
            "--quiet",
        ]
    )
    assert rc == 0 and out.stat().st_size > 1000


def test_cached_original_checkpoint_without_tokenizer_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("FOLEYLDM_CACHE", str(tmp_path))
    (tmp_path / "audioldm-m-text-ft.ckpt").write_bytes(b"not read before the tokenizer check")
    with pytest.raises(ModelNotFoundError, match="RoBERTa tokenizer") as e:
        resolve_release("audioldm-m-text-ft")
    assert "--clap-tokenizer" in str(e.value) and "\n" not in str(e.value)
