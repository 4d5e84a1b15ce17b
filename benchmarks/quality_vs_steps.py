"""Quality against sampler steps (issue 10): FD (YAMNet) of each sampler at N steps.

    python benchmarks/quality_vs_steps.py --model foley-small --prompts test96.csv --out qvs

Every (sampler, steps) cell is a `foleyldm benchmark-model` run (resumable, OUT/<cell>/)
on the same prompts and seeds. Two FDs per cell: against the prompt set's real reference
clips (quality), and against the DDIM-200 clips of the same prompts (how close the cheap
sampler gets to the expensive one's output distribution). Prints the table and, per sampler,
the fewest steps whose FD to the real clips is within ``--tolerance`` (5 %) of DDIM-200's.
FD on ~100 clips with 1024-d features is biased upwards (singular covariance): compare the
cells with each other, not with published tables.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from foleyldm.evaluation.benchmark import BenchmarkOptions, run_benchmark
from foleyldm.evaluation.prompt_set import read_prompt_set
from foleyldm.evaluation.scoring import ScoreOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="foley-small")
    ap.add_argument("--prompts", required=True, help="prompt set CSV (caption, reference clip)")
    ap.add_argument("--out", default="quality-vs-steps")
    ap.add_argument("--samplers", nargs="+", default=["ddim", "dpmpp-2m", "unipc"])
    ap.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    ap.add_argument("--baseline", default="ddim:200", help="SAMPLER:STEPS of the reference run")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    out = Path(args.out)
    cache = out / "cache"
    scoring = ScoreOptions(metrics=["fd"], backbones=["yamnet"], cache_dir=cache)

    def run(sampler: str, steps: int, reference: Path | None = None) -> tuple[float, float]:
        """(FD to the reference clips, seconds per clip) of one cell."""
        name = f"{sampler}-{steps}" + ("" if reference is None else "-vs-baseline")
        cell = out / f"{sampler}-{steps}"
        opts = BenchmarkOptions(
            sampler=sampler,
            steps=steps,
            batch_size=args.batch_size,
            reference=reference,
            scoring=scoring,
        )
        print(f"== {name}", flush=True)
        result = run_benchmark(args.model, args.prompts, cell, opts).scores.values
        gen: dict[str, Any] = result.get("generation", {})
        return result["yamnet"]["fd"], float(gen.get("seconds_per_clip", float("nan")))

    base_sampler, base_steps = args.baseline.split(":")
    base_fd, base_time = run(base_sampler, int(base_steps))
    base_dir = out / f"{base_sampler}-{base_steps}"
    base_set = out / "baseline.csv"  # the baseline's clips as a reference set
    with base_set.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "caption", "path"])
        for row in read_prompt_set(args.prompts):
            w.writerow(
                [row.name, row.caption, str((base_dir / "audio" / f"{row.name}.wav").resolve())]
            )

    lines = [
        f"baseline {args.baseline}: FD to real {base_fd:.3f}, {base_time:.2f} s/clip",
        "",
        "| sampler | steps | FD to real ↓ | ÷ baseline | FD to baseline ↓ | s/clip | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    best: dict[str, int] = {}
    for sampler in args.samplers:
        for steps in sorted(args.steps):
            fd, secs = run(sampler, steps)
            fd_base, _ = run(sampler, steps, reference=base_set)
            ratio = fd / base_fd
            if ratio <= 1 + args.tolerance and sampler not in best:
                best[sampler] = steps
            lines.append(
                f"| {sampler} | {steps} | {fd:.3f} | {ratio:.3f} | {fd_base:.3f} | "
                f"{secs:.2f} | {base_time / secs:.1f}x |"
            )
    lines.append("")
    for sampler in args.samplers:
        found = best.get(sampler)
        within = f"{found} steps" if found else f"none of {sorted(args.steps)}"
        lines.append(f"- {sampler}: fewest steps within {args.tolerance:.0%} of baseline: {within}")
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
