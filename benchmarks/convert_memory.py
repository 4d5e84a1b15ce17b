"""Peak memory of converting an original AudioLDM checkpoint, against the checkpoint's size.

Writes a synthetic checkpoint in the original layout (random weights in the shapes of a
released model, online + EMA UNet copies, VAE, HiFi-GAN, diffusion buffers; no CLAP), then
converts it in a fresh subprocess (so the peak RSS is the converter's own) and prints the
peak RSS, the RSS after imports, and their ratio to the file size. Target: peak <= 1.5x file.

    python benchmarks/convert_memory.py                       # audioldm-m, .ckpt
    python benchmarks/convert_memory.py --variant s --format safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

GIB = 1024**3


def write_checkpoint(variant: str, path: Path, seed: int = 0) -> None:
    """A random-weight original-layout checkpoint of a released size (EMA copy different)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    from foleyldm.models.convert.checkpoint import original_state_dict_from_pipeline
    from foleyldm.models.presets import PRESETS

    p = PRESETS[f"audioldm-{variant}"]
    g = torch.Generator().manual_seed(seed)

    def build(factory):
        with torch.device("meta"):
            model = factory()
        model.to_empty(device="cpu")
        with torch.no_grad():  # one tensor at a time: never more than the model in memory
            for t in model.state_dict().values():
                t.normal_(generator=g)
        return model

    unet = build(lambda: UNet2DConditionModel(**p.unet))
    shadow = build(lambda: UNet2DConditionModel(**p.unet))
    vae = build(lambda: AutoencoderKL(**p.vae))
    vocoder = build(lambda: SpeechT5HifiGan(SpeechT5HifiGanConfig(**p.vocoder)))
    state = original_state_dict_from_pipeline(
        unet, vae, vocoder, p.vae["scaling_factor"], ema_unet=shadow
    )
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save({"state_dict": state}, path)


_CONVERT = """
import json, resource, sys, time
import torch
from foleyldm.models.convert.checkpoint import convert_original_checkpoint
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss()
t = time.perf_counter()
convert_original_checkpoint(sys.argv[1], sys.argv[2], variant=sys.argv[3])
print(json.dumps({"base": base, "peak": rss(), "seconds": time.perf_counter() - t}))
"""


def measure(ckpt: Path, out: Path, variant: str) -> dict[str, float]:
    """Convert in a fresh interpreter; its peak RSS (ru_maxrss) and the RSS after imports."""
    proc = subprocess.run(
        [sys.executable, "-c", _CONVERT, str(ckpt), str(out), variant],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variant", choices=("s", "m", "l"), default="m", help="released size")
    ap.add_argument("--format", choices=("ckpt", "safetensors"), default="ckpt")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        ckpt = Path(tmp) / f"audioldm-{args.variant}-synthetic.{args.format}"
        t = time.perf_counter()
        # A subprocess, so that writing does not leave memory behind in this one either.
        subprocess.run([sys.executable, __file__, "--write", args.variant, str(ckpt)], check=True)
        written = time.perf_counter() - t
        size = ckpt.stat().st_size
        r = measure(ckpt, Path(tmp) / "converted", args.variant)
    print(
        f"checkpoint        audioldm-{args.variant} (.{args.format}), {size / GIB:.2f} GiB "
        f"(written in {written:.0f} s)"
    )
    print(f"RSS after imports {r['base'] / GIB:.2f} GiB")
    print(
        f"peak RSS          {r['peak'] / GIB:.2f} GiB = {r['peak'] / size:.2f}x the file "
        f"({(r['peak'] - r['base']) / size:.2f}x above the imports)"
    )
    print(f"conversion time   {r['seconds']:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--write":
        write_checkpoint(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
