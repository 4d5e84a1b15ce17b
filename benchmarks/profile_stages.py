"""Where the time of each generation stage goes: the companion of ``generate.py``'s FLOP/s.

``generate.py`` divides each stage's FLOPs by its time; this script says why that falls short
of the dense-matmul peak. For the UNet (one guided step, batch 2), the VAE decode and the
HiFi-GAN vocoder of a ``--seconds`` clip (batch 1, warm: each is run once before it is
measured) it prints

- the time by kind of op (``torch.profiler``, self CPU time): convolutions, matmuls
  (linear layers), attention, normalisation, element-wise ops, copies / layout changes;
- every convolution shape with its FLOPs and achieved GFLOP/s (forward hooks), heaviest
  first, so slow layers (few channels, 1x1, layout reorders) stand out.

    python benchmarks/profile_stages.py                        # audioldm-s, 10 s, fp32
    python benchmarks/profile_stages.py --channels-last        # NHWC UNet and VAE
    python benchmarks/profile_stages.py --preset tiny --seconds 2.5 --stages vae
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

KINDS = {
    "convolution": ("conv",),
    "matmul": ("addmm", "aten::mm", "bmm", "matmul", "linear"),
    "attention": ("scaled_dot_product", "flash_attention", "softmax"),
    "normalisation": ("group_norm", "layer_norm", "batch_norm"),
    "copy/layout": ("copy_", "contiguous", "clone", "cat", "to_dense", "reorder"),
}

CONVS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d)


def kind_of(op: str) -> str:
    for kind, keys in KINDS.items():
        if any(k in op for k in keys):
            return kind
    return "element-wise/other"


def conv_flops(mod: Any, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-adds x 2 of one convolution call (transposed: per input element)."""
    k = 1
    for s in mod.kernel_size:
        k *= s
    if isinstance(mod, (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d)):
        return 2 * inp.numel() * mod.out_channels // mod.groups * k
    return 2 * out.numel() * mod.in_channels // mod.groups * k


def conv_table(root: torch.nn.Module, fn: Callable[[], Any]) -> list[tuple[str, int, float, int]]:
    """(shape label, calls, seconds, FLOPs) per distinct convolution shape, heaviest first."""
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    start: dict[int, float] = {}

    def pre(m: torch.nn.Module, _a: Any) -> None:
        start[id(m)] = time.perf_counter()

    def post(m: Any, a: Any, o: torch.Tensor) -> None:
        dt = time.perf_counter() - start[id(m)]
        label = (
            f"{type(m).__name__} {m.in_channels}->{m.out_channels} "
            f"k{tuple(m.kernel_size)} out {tuple(o.shape[2:])}"
        )
        row = stats[label]
        row[0] += 1
        row[1] += dt
        row[2] += conv_flops(m, a[0], o)

    convs = [m for m in root.modules() if isinstance(m, CONVS)]
    handles = [
        h for m in convs for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))
    ]
    fn()
    for h in handles:
        h.remove()
    rows = [(k, int(v[0]), float(v[1]), int(v[2])) for k, v in stats.items()]
    return sorted(rows, key=lambda r: -r[2])


def op_kinds(fn: Callable[[], Any]) -> tuple[float, dict[str, float]]:
    """Wall seconds of one call and its self CPU seconds by kind of op."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        fn()
        wall = time.perf_counter() - t
    by_kind: dict[str, float] = defaultdict(float)
    for ev in prof.key_averages():
        by_kind[kind_of(ev.key)] += ev.self_cpu_time_total / 1e6
    return wall, dict(by_kind)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="audioldm-s")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--stages", nargs="+", default=["unet", "vae", "vocoder"])
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--top", type=int, default=8, help="convolution shapes listed per stage")
    args = ap.parse_args()

    from generate import _latents, matmul_peak

    from foleyldm.pipelines.loading import build_pipeline

    torch.set_grad_enabled(False)
    pipe = build_pipeline(args.preset, seed=0)
    x = _latents(pipe, args.seconds, 1)
    if args.channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.codec.vae.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    xx, y = torch.cat([x, x]), torch.randn(2, 512)
    mel = torch.randn(1, 1, x.shape[2] * pipe.codec.compression, pipe.codec.mel.n_mels)
    jobs: dict[str, tuple[torch.nn.Module, Callable[[], Any]]] = {
        "unet": (pipe.unet, lambda: pipe.unet(xx, 500, None, class_labels=y)),
        "vae": (pipe.codec.vae, lambda: pipe.codec.decode_mel(x)),
        "vocoder": (pipe.codec.vocoder, lambda: pipe.codec.vocode(mel)),
    }
    peak = matmul_peak(torch.float32)
    print(
        f"preset {args.preset}, {args.seconds:g} s, fp32, {torch.get_num_threads()} threads, "
        f"channels_last={args.channels_last}; matmul peak {peak:.0f} GFLOP/s"
    )
    for name in args.stages:
        module, fn = jobs[name]
        fn()  # warm: oneDNN builds its kernels on the first call of a shape
        wall, kinds = op_kinds(fn)
        convs = conv_table(module, fn)
        conv_s = sum(r[2] for r in convs)
        conv_f = sum(r[3] for r in convs)
        total = sum(kinds.values())
        print(f"\n== {name}: {wall:.3f} s")
        for kind, sec in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print(f"  {kind:<20} {sec:7.3f} s  {sec / total:5.1%}")
        if convs:
            print(
                f"  convolutions: {conv_f / 1e9:.1f} GFLOP in {conv_s:.3f} s = "
                f"{conv_f / conv_s / 1e9:.0f} GFLOP/s ({conv_f / conv_s / 1e9 / peak:.0%} of peak)"
            )
            for label, calls, sec, fl in convs[: args.top]:
                rate = fl / sec / 1e9
                print(
                    f"    {label:<52} x{calls:<3} {sec:6.3f} s {fl / 1e9:7.1f} GF "
                    f"{rate:5.0f} GF/s ({rate / peak:.0%})"
                )


if __name__ == "__main__":
    main()
