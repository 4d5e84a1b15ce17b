"""Run ``foleyldm data ...`` through its own parser.

`foleyldm.serving.cli.main` builds every subcommand (importing diffusers takes ~10 s here),
so data tests parse with the data module's parser alone (test_manifest checks the wiring).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from foleyldm.serving.commands import data


def run_data(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="foleyldm")
    data.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return int(args.func(args))
