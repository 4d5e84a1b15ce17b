"""Shared fixtures: offline mode, the tiny pipeline (built once per session), the shared folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def shared_dir() -> Path:
    """The team's shared folder: $FOLEYLDM_SHARED or ../shared beside the repository."""
    env = os.environ.get("FOLEYLDM_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_pipe():
    from foleyldm.pipelines.loading import build_pipeline

    return build_pipeline("tiny")
