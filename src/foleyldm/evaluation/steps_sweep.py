"""Quality against sampler steps: FD (YAMNet) of each sampler at N steps (issues 9, 10).

Every (sampler, steps) cell is a :func:`run_benchmark` run (resumable, ``OUT/<sampler>-<steps>/``)
on the same prompts and seeds. Two FDs per cell: against the prompt set's real reference clips
(quality), and against the baseline's clips of the same prompts (how close the cheap sampler
gets to the expensive one's output distribution). The answer per sampler is the fewest steps
whose FD to the real clips is within ``tolerance`` of the baseline's.

FD on ~100 clips with 1024-d features is biased upwards (singular covariance): compare the
cells with each other, not with published tables.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foleyldm.evaluation.benchmark import BenchmarkOptions, run_benchmark
from foleyldm.evaluation.prompt_set import read_prompt_set
from foleyldm.evaluation.scoring import ScoreOptions


@dataclass(frozen=True)
class SweepCell:
    """One (sampler, steps) run: FD to the real clips, FD to the baseline's, seconds per clip."""

    sampler: str
    steps: int
    fd: float
    fd_to_baseline: float
    seconds_per_clip: float


@dataclass
class StepsSweep:
    """The baseline's figures and every cell, in run order."""

    baseline: str  # "SAMPLER:STEPS"
    baseline_fd: float
    baseline_seconds: float
    tolerance: float
    cells: list[SweepCell] = field(default_factory=list)

    def fewest_steps(self, sampler: str) -> int | None:
        """The fewest steps of ``sampler`` whose FD is within the tolerance, if any."""
        ok = [
            c.steps
            for c in self.cells
            if c.sampler == sampler and c.fd <= self.baseline_fd * (1 + self.tolerance)
        ]
        return min(ok) if ok else None

    def to_markdown(self) -> str:
        lines = [
            f"baseline {self.baseline}: FD to real {self.baseline_fd:.3f}, "
            f"{self.baseline_seconds:.2f} s/clip",
            "",
            "| sampler | steps | FD to real ↓ | ÷ baseline | FD to baseline ↓ | s/clip "
            "| speed-up |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in self.cells:
            lines.append(
                f"| {c.sampler} | {c.steps} | {c.fd:.3f} | {c.fd / self.baseline_fd:.3f} | "
                f"{c.fd_to_baseline:.3f} | {c.seconds_per_clip:.2f} | "
                f"{self.baseline_seconds / c.seconds_per_clip:.1f}x |"
            )
        lines.append("")
        for sampler in dict.fromkeys(c.sampler for c in self.cells):
            found = self.fewest_steps(sampler)
            tried = sorted(c.steps for c in self.cells if c.sampler == sampler)
            within = f"{found} steps" if found is not None else f"none of {tried}"
            lines.append(
                f"- {sampler}: fewest steps within {self.tolerance:.0%} of baseline: {within}"
            )
        return "\n".join(lines)


def steps_sweep(
    model: str,
    prompts: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    samplers: Sequence[str],
    steps: Sequence[int],
    baseline: str = "ddim:200",
    tolerance: float = 0.05,
    batch_size: int = 8,
    device: str = "auto",
    log: Callable[[str], None] | None = print,
) -> StepsSweep:
    """Run the baseline and every (sampler, steps) cell; write ``OUT/table.md``."""
    out = Path(out_dir)
    scoring = ScoreOptions(metrics=["fd"], backbones=["yamnet"], cache_dir=out / "cache")
    base_sampler, _, base_steps = baseline.partition(":")
    if not base_steps.isdigit():
        raise ValueError(f"baseline must be SAMPLER:STEPS, got {baseline!r}")

    def run(sampler: str, n: int, reference: Path | None = None) -> tuple[float, float]:
        opts = BenchmarkOptions(
            sampler=sampler,
            steps=n,
            batch_size=batch_size,
            reference=reference,
            device=device,
            scoring=scoring,
        )
        if log is not None:
            log(f"== {sampler}-{n}" + ("" if reference is None else "-vs-baseline"))
        values = run_benchmark(model, prompts, out / f"{sampler}-{n}", opts).scores.values
        gen: dict[str, Any] = values.get("generation", {})
        return float(values["yamnet"]["fd"]), float(gen.get("seconds_per_clip", float("nan")))

    base_fd, base_time = run(base_sampler, int(base_steps))
    base_audio = out / f"{base_sampler}-{base_steps}" / "audio"
    base_set = out / "baseline.csv"  # the baseline's clips as a reference set
    with base_set.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "caption", "path"])
        for row in read_prompt_set(prompts):
            writer.writerow(
                [row.name, row.caption, str((base_audio / f"{row.name}.wav").resolve())]
            )

    sweep = StepsSweep(baseline, base_fd, base_time, tolerance)
    for sampler in samplers:
        for n in sorted(steps):
            fd, secs = run(sampler, n)
            fd_base, _ = run(sampler, n, reference=base_set)
            sweep.cells.append(SweepCell(sampler, n, fd, fd_base, secs))
    (out / "table.md").write_text(sweep.to_markdown() + "\n", encoding="utf-8")
    return sweep
