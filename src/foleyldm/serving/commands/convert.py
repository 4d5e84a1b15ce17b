"""``foleyldm convert``: an original AudioLDM checkpoint -> a foleyldm/diffusers model folder."""

from __future__ import annotations

import argparse
from typing import Any

from foleyldm.serving.cli import HelpFormatter


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert an original AudioLDM .ckpt into a model folder",
        formatter_class=HelpFormatter,
        description="Convert an original AudioLDM checkpoint (.ckpt Lightning file, or its state "
        "dict as .safetensors) into the diffusers layout that --model accepts. Strict: every "
        "tensor is used or deliberately ignored; pickles are read with weights_only=True.",
    )
    p.add_argument("checkpoint", help="audioldm-*.ckpt (or an original-layout .safetensors)")
    p.add_argument("out_dir", help="folder to write (replaced atomically if it exists)")
    p.add_argument(
        "--variant",
        choices=["s", "m", "l"],
        default=None,
        help="model size when there is no --config (default: inferred from shapes)",
    )
    p.add_argument("--config", default=None, help="the original config (JSON or YAML)")
    p.add_argument(
        "--no-ema", action="store_true", help="take the online UNet weights instead of the EMA copy"
    )
    p.add_argument(
        "--dtype",
        choices=["fp32", "fp16", "bf16"],
        default="fp32",
        help="precision of the written weights",
    )
    p.add_argument(
        "--clap-tokenizer",
        default=None,
        help="RoBERTa tokenizer folder or hub id for the checkpoint's CLAP",
    )
    p.add_argument(
        "--skip-clap",
        action="store_true",
        help="leave the CLAP out (the model then needs prompt embeddings)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import torch

    from foleyldm.models.convert.checkpoint import convert_original_checkpoint

    dtypes: dict[str, Any] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    out = convert_original_checkpoint(
        args.checkpoint,
        args.out_dir,
        variant=args.variant,
        original_config=args.config,
        ema=not args.no_ema,
        dtype=dtypes[args.dtype],
        clap_tokenizer=args.clap_tokenizer,
        skip_clap=args.skip_clap,
    )
    print(out)
    return 0
