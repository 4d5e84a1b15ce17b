"""Peak memory of long-form generation: a 10 s and a 60 s tiny generation, each in a fresh
process, and the ratio of their peak RSS (target <= 1.5: memory must not grow with length
beyond the output buffer).

    python benchmarks/long_form_memory.py                        # 10 s and 60 s
    python benchmarks/long_form_memory.py --durations 10 30 60 120 --steps 5
    python benchmarks/long_form_memory.py --no-windows           # contrast: one window for all

Each child builds the tiny preset, notes its RSS, runs ``TextToAudioPipeline.__call__`` (the
product path: clips longer than the model's window go through ``pipelines.long_form``) and
reports its own peak RSS (``getrusage(RUSAGE_SELF)``), the longest latent the UNet saw and
the wall time. "gen" is the peak minus the RSS after loading: what generation itself added.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any


def child(seconds: float, steps: int, no_windows: bool) -> dict[str, Any]:
    import torch

    from foleyldm.pipelines.loading import build_pipeline

    pipe = build_pipeline("tiny")
    if no_windows:
        pipe.defaults["window_s"] = 1e6  # every clip fits "one window": the plain path
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes: list[int] = []
    hook = pipe.unet.register_forward_hook(lambda _m, a, _o: sizes.append(int(a[0].shape[2])))
    start = time.perf_counter()
    out = pipe(
        "wind in the trees",
        audio_length_in_s=seconds,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
    )
    wall = time.perf_counter() - start
    hook.remove()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "samples": int(out.waveforms.shape[-1]),
        "wall_s": wall,
        "rss_loaded_mb": loaded / 1024,  # ru_maxrss is in KiB on Linux
        "peak_rss_mb": peak / 1024,
        "max_unet_frames": max(sizes),
        "unet_calls": len(sizes),
    }


def run(seconds: float, steps: int, no_windows: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(seconds), "--steps", str(steps)]
    if no_windows:
        cmd.append("--no-windows")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child for {seconds} s failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--durations", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--steps", type=int, default=3, help="denoising steps per generation")
    ap.add_argument("--no-windows", action="store_true", help="disable windowing (contrast)")
    ap.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.steps, args.no_windows)))
        return

    rows = [run(s, args.steps, args.no_windows) for s in args.durations]
    print(f"tiny preset, {args.steps} steps, windows {'off' if args.no_windows else 'on'}")
    print(
        f"{'seconds':>8} {'wall s':>8} {'loaded MB':>10} {'peak MB':>9} {'gen MB':>8} {'UNet T':>7}"
    )
    for r in rows:
        gen = r["peak_rss_mb"] - r["rss_loaded_mb"]
        print(
            f"{r['seconds']:8.1f} {r['wall_s']:8.1f} {r['rss_loaded_mb']:10.0f} "
            f"{r['peak_rss_mb']:9.0f} {gen:8.0f} {r['max_unet_frames']:7d}"
        )
    base, last = rows[0], rows[-1]
    ratio = last["peak_rss_mb"] / base["peak_rss_mb"]
    verdict = "ok" if ratio <= 1.5 else "ABOVE TARGET"
    print(
        f"peak RSS ratio {last['seconds']:g} s / {base['seconds']:g} s: {ratio:.2f} "
        f"(target <= 1.5: {verdict})"
    )


if __name__ == "__main__":
    main()
