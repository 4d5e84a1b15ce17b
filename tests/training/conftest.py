"""A toy corpus (with one corrupt clip) and the tiny recipe, shared by the training tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foleyldm.training.config import Config, load_config
from foleyldm.training.toydata import write_toy_corpus

TINY_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "tiny.yaml"
CORRUPT = "clips/corrupt.flac"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """36 clips of 1.28 s (six classes; 30 train, 6 valid) + one unreadable "FLAC" in train."""
    root = tmp_path_factory.mktemp("corpus")
    manifest = write_toy_corpus(root, num_clips=36, seconds=1.28)
    (root / CORRUPT).write_bytes(b"fLaC" + b"\x00\x17 this is not audio" * 40)
    row = {
        "path": CORRUPT,
        "duration": 1.28,
        "sample_rate": 16000,
        "channels": 1,
        "captions": ["a broken file"],
        "labels": ["broken"],
        "source": "test",
        "license": "CC0-1.0",
        "split": "train",
    }
    with open(manifest, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    return manifest


def tiny_config(corpus: Path, *overrides: str) -> Config:
    """recipes/tiny.yaml on the toy corpus (no TensorBoard unless asked), plus overrides."""
    return load_config(
        TINY_RECIPE, [f"data.manifest={corpus}", "run.tensorboard=false", *overrides]
    )
