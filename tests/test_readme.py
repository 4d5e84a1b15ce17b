"""The README's examples are checked: its Python block runs, and its commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from foleyldm.serving.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it saves a model folder
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # our own README's example
    out = namespace["out"]
    assert tuple(out.waveforms.shape) == (2, 1, 80000) and out.sample_rate == 16000
    assert (tmp_path / "my-model" / "model_index.json").exists()


def _commands() -> list[list[str]]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                part = part.split("#")[0].strip()
                if part.startswith("foleyldm "):
                    lines.append(shlex.split(part)[1:])
    return lines


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a[:2]))
def test_cli_commands_in_readme_parse(argv):
    """Each documented command line is accepted by the CLI's parser (not run)."""
    parser = build_parser()
    if "--help" in argv:
        return
    args = parser.parse_args(argv)
    assert callable(args.func)
