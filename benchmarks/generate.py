"""Generation speed and memory: foleyldm vs diffusers' AudioLDMPipeline on identical weights.

Both pipelines run on the same random weights (``build_pipeline(preset, seed=0)``), the same
DDIM sampler, steps, guidance, prompt embedding and initial latents.

- Timing: all of them in one process on the same module objects, ``--warmup`` untimed
  generations each (the first call of a shape builds oneDNN's kernels: about 2 s of a 15 s
  run here), then ``--reps`` rounds in alternating order (ABBA), so the machine's drifts
  (separate processes differed by 10 % here) fall on both alike.
- Memory and output: each implementation in a fresh process, one generation,
  ``--memory-reps`` times (median peak RSS).

Prints one table: median wall time (and the fastest), UNet time per denoising step,
real-time factor, peak RSS, ratios to diffusers, the per-stage split (forward hooks on the
shared UNet, VAE decoder and vocoder, so both pipelines get one), the max output difference
to diffusers, and the FLOPs of each stage with the achieved FLOP/s.

    python benchmarks/generate.py                          # audioldm-s, 5 s and 10 s, batch 1
    python benchmarks/generate.py --preset tiny --durations 2.5 --batches 1 4 --steps 5
    python benchmarks/generate.py --precisions fp32 bf16   # add bf16 autocast rows

Peak: measured here as the best of five 2048^3 matmuls, per dtype (oneDNN's own kernel:
the most this CPU gives a dense op, not the vendor's paper figure).
Per-op and per-layer profiles of the stages: ``benchmarks/profile_stages.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from typing import Any

import torch

_SMALL_TEXT = {
    "vocab_size": 30522,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 66,
    "projection_dim": 512,
}


def _embeds(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    c = torch.nn.functional.normalize(torch.randn(batch, 512, generator=g), dim=-1)
    uc = torch.nn.functional.normalize(torch.randn(batch, 512, generator=g), dim=-1)
    return c, uc


def _latents(pipe: Any, seconds: float, batch: int) -> torch.Tensor:
    frames = int(seconds / 0.01)
    frames += -frames % pipe.codec.compression  # what diffusers does
    shape = (
        batch,
        pipe.codec.latent_channels,
        frames // pipe.codec.compression,
        pipe.codec.latent_bins,
    )
    return torch.randn(shape, generator=torch.Generator().manual_seed(3))


class StageTimer:
    """Wall time inside the UNet, the VAE decoder and the vocoder, by forward hooks on the
    module objects both pipelines share (so diffusers gets the same split as foleyldm)."""

    def __init__(self, pipe: Any) -> None:
        self.total: dict[str, float] = {}
        self._start: dict[str, float] = {}
        for name, mod in (
            ("unet_steps", pipe.unet),
            ("vae_decode", pipe.codec.vae.decoder),
            ("vocoder", pipe.codec.vocoder),
        ):
            mod.register_forward_pre_hook(self._enter(name))
            mod.register_forward_hook(self._leave(name))

    def _enter(self, name: str) -> Any:
        def hook(*_: Any) -> None:
            self._start[name] = time.perf_counter()

        return hook

    def _leave(self, name: str) -> Any:
        def hook(*_: Any) -> None:
            self.total[name] = self.total.get(name, 0.0) + time.perf_counter() - self._start[name]

        return hook


def generators(pipe: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """One generation function per implementation label ("diffusers fp32", "foleyldm fp32",
    "foleyldm bf16", ...), all on ``pipe``'s modules, embeddings and initial latents."""
    c, uc = _embeds(cfg["batch"])
    kw = {
        "num_inference_steps": cfg["steps"],
        "guidance_scale": 2.5,
        "audio_length_in_s": cfg["seconds"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from diffusers import AudioLDMPipeline, DDIMScheduler
    from foleyldm.models.clap import LaionCLAP

    # diffusers' pipeline needs a ClapTextModelWithProjection even when given embeddings;
    # models with our dual CLAP get a small random one (unused: prompt_embeds are given).
    clap = pipe.clap if isinstance(pipe.clap, LaionCLAP) else LaionCLAP.build(_SMALL_TEXT)
    ref = AudioLDMPipeline(
        vae=pipe.codec.vae,
        text_encoder=clap.text_encoder,
        tokenizer=clap.tokenizer,
        unet=pipe.unet,
        scheduler=DDIMScheduler.from_config(pipe.scheduler_config),
        vocoder=pipe.codec.vocoder,
    )
    ref.set_progress_bar_config(disable=True)

    def diffusers_fp32() -> torch.Tensor:
        x = _latents(pipe, cfg["seconds"], cfg["batch"])
        return ref(
            prompt_embeds=c, negative_prompt_embeds=uc, latents=x, output_type="pt", **kw
        ).audios

    def ours(precision: str) -> Any:
        def generate() -> torch.Tensor:
            pipe.set_precision(precision)
            x = _latents(pipe, cfg["seconds"], cfg["batch"])
            res = pipe(prompt_embeds=c, negative_prompt_embeds=uc, latents=x, sampler="ddim", **kw)
            return torch.as_tensor(res.waveforms[:, 0])

        return generate

    fns = {"diffusers fp32": diffusers_fp32}
    fns.update({f"foleyldm {p}": ours(p) for p in cfg["precisions"]})
    return fns


def run_memory(cfg: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of one generation of ``cfg["impl"]`` in this (fresh) process; saves the audio.

    Only the first generation counts: the high-water mark creeps up by tens of MiB with each
    repeat (allocator fragmentation), which would compare allocator histories, not pipelines.
    """
    from foleyldm.pipelines.loading import build_pipeline

    torch.set_grad_enabled(False)
    pipe = build_pipeline(cfg["preset"], seed=0)
    out = generators(pipe, cfg)[cfg["impl"]]()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    torch.save(out, cfg["out"])
    return {"peak_rss_mib": rss}


def run_timing(cfg: dict[str, Any]) -> dict[str, Any]:
    """All implementations in this one process, on the same module objects: ``warmup``
    untimed generations each, then ``reps`` rounds, alternating the order (ABBA) so drifts of
    the machine fall on both alike. Medians of wall time and of each stage, per impl."""
    from foleyldm.pipelines.loading import build_pipeline

    torch.set_grad_enabled(False)
    pipe = build_pipeline(cfg["preset"], seed=0)
    fns = generators(pipe, cfg)
    for fn in fns.values():
        for _ in range(cfg["warmup"]):
            fn()
    timer = StageTimer(pipe)
    walls: dict[str, list[float]] = {k: [] for k in fns}
    splits: dict[str, list[dict[str, float]]] = {k: [] for k in fns}
    for r in range(cfg["reps"]):
        for impl in list(fns) if r % 2 == 0 else list(fns)[::-1]:
            timer.total = {}
            t0 = time.perf_counter()
            fns[impl]()
            walls[impl].append(time.perf_counter() - t0)
            splits[impl].append(dict(timer.total))
    res: dict[str, Any] = {}
    for impl in fns:
        stages = {k: statistics.median(s[k] for s in splits[impl]) for k in splits[impl][0]}
        res[impl] = {
            "wall_s": statistics.median(walls[impl]),
            "wall_min_s": min(walls[impl]),
            "step_s": stages["unet_steps"] / cfg["steps"],
            "stages": stages,
        }
    if pipe.clap is not None:
        pipe.encode_prompt(["warm up"] * cfg["batch"])
        t1 = time.perf_counter()
        pipe.encode_prompt(["a dog barking"] * cfg["batch"])
        text_s = time.perf_counter() - t1
        for impl in fns:
            if impl.startswith("foleyldm"):
                res[impl]["stages"]["text_encoder"] = text_s
    return res


def flops(preset: str, seconds: float) -> dict[str, float]:
    """FLOPs of one guided UNet step (batch 2), the VAE decode and the vocoder, batch 1."""
    from torch.utils.flop_counter import FlopCounterMode

    from foleyldm.pipelines.loading import build_pipeline

    pipe = build_pipeline(preset, seed=0)
    x = _latents(pipe, seconds, 1)
    y = torch.randn(2, 512)
    res = {}
    with torch.no_grad():
        for name, fn in (
            ("unet_step", lambda: pipe.unet(torch.cat([x, x]), 500, None, class_labels=y)),
            ("vae_decode", lambda: pipe.codec.decode_mel(x)),
            ("vocoder", lambda: pipe.codec.vocode(torch.randn(1, 1, x.shape[2] * 4, 64))),
        ):
            with FlopCounterMode(display=False) as fc:
                fn()
            res[name] = fc.get_total_flops()
    return res


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="audioldm-s")
    ap.add_argument("--durations", type=float, nargs="+", default=[5.0, 10.0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (oneDNN setup)")
    ap.add_argument("--reps", type=int, default=3, help="timed runs; medians are reported")
    ap.add_argument(
        "--memory-reps",
        type=int,
        default=3,
        help="fresh processes per implementation for peak RSS (median; one run varies by "
        "+-150 MiB here: oneDNN scratch and allocator timing)",
    )
    ap.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    ap.add_argument("--no-flops", action="store_true")
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        cfg = json.loads(args._child)
        run = run_timing if cfg["mode"] == "time" else run_memory
        print(json.dumps(run(cfg)))
        return

    def child(cfg: dict[str, Any]) -> Any:
        proc = subprocess.run(
            [sys.executable, __file__, "--_child", json.dumps(cfg)], capture_output=True, text=True
        )
        if proc.returncode:
            sys.exit(f"{cfg['mode']} run failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    rows = []
    tmp = os.environ.get("TMPDIR", "/tmp")
    impls = ["diffusers fp32"] + [f"foleyldm {p}" for p in args.precisions]
    for seconds in args.durations:
        for batch in args.batches:
            base = {
                "preset": args.preset,
                "seconds": seconds,
                "batch": batch,
                "steps": args.steps,
                "warmup": args.warmup,
                "reps": args.reps,
                "precisions": args.precisions,
            }
            timing = child({**base, "mode": "time"})
            rss: dict[str, list[float]] = {impl: [] for impl in impls}
            outs = {
                impl: os.path.join(tmp, f"bench-{impl.replace(' ', '-')}-{seconds}-{batch}.pt")
                for impl in impls
            }
            for _ in range(args.memory_reps):
                for impl in impls:  # each in a fresh process: its own peak RSS and audio
                    got = child({**base, "mode": "memory", "impl": impl, "out": outs[impl]})
                    rss[impl].append(got["peak_rss_mib"])
            wavs = {impl: torch.load(out) for impl, out in outs.items()}  # the last run's audio
            memory = {k: {"peak_rss_mib": statistics.median(v)} for k, v in rss.items()}
            ref = {**timing["diffusers fp32"], **memory["diffusers fp32"]}
            for impl in impls:
                r = {**timing[impl], **memory[impl]}
                rows.append(
                    {
                        "seconds": seconds,
                        "batch": batch,
                        "impl": impl,
                        **r,
                        "rtf": r["wall_s"] / (seconds * batch),
                        "vs_diffusers": r["wall_s"] / ref["wall_s"],
                        "rss_vs": r["peak_rss_mib"] / ref["peak_rss_mib"],
                        "max_abs_diff": float((wavs[impl] - wavs["diffusers fp32"]).abs().max()),
                    }
                )

    threads = torch.get_num_threads()
    print(
        f"\npreset {args.preset}, DDIM {args.steps} steps, guidance 2.5, {threads} threads, "
        f"torch {torch.__version__}"
    )
    print(
        f"{'dur':>5} {'B':>2} {'impl':<15} {'wall s':>8} {'min s':>6} {'step s':>7} {'RTF':>6} "
        f"{'x diff.':>7} "
        f"{'RSS MiB':>8} {'x diff.':>7} {'max|Δ|':>9}  stages (s)"
    )
    for r in rows:
        st = " ".join(f"{k}={v:.2f}" for k, v in r["stages"].items())
        print(
            f"{r['seconds']:5.1f} {r['batch']:2d} {r['impl']:<15} {r['wall_s']:8.2f} "
            f"{r['wall_min_s']:6.2f} "
            f"{r['step_s']:7.3f} "
            f"{r['rtf']:6.2f} {r['vs_diffusers']:7.2f} {r['peak_rss_mib']:8.0f} {r['rss_vs']:7.2f} "
            f"{r['max_abs_diff']:9.2e}  {st}"
        )

    if not args.no_flops:
        peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
        print(
            f"\nmatmul peak (best of 5 x 2048^3): fp32 {peaks['fp32']:.0f} GFLOP/s, "
            f"bf16 {peaks['bf16']:.0f} GFLOP/s"
        )
        for seconds in args.durations:
            f = flops(args.preset, seconds)
            print(
                f"FLOPs for {seconds:g} s: "
                + ", ".join(f"{k} {v / 1e9:.1f} G" for k, v in f.items())
            )
            for r in rows:
                if r["seconds"] != seconds or r["batch"] != 1:
                    continue
                peak = peaks["bf16" if "bf16" in r["impl"] else "fp32"]
                st = r["stages"]
                unet = f["unet_step"] * args.steps / st["unet_steps"] / 1e9
                vae = f["vae_decode"] / st["vae_decode"] / 1e9
                voc = f["vocoder"] / st["vocoder"] / 1e9
                print(
                    f"  {r['impl']}: UNet {unet:.0f} GFLOP/s ({unet / peak:.0%} of peak), "
                    f"VAE {vae:.0f} ({vae / peak:.0%}), vocoder {voc:.0f} ({voc / peak:.0%})"
                )


if __name__ == "__main__":
    main()
