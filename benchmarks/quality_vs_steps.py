"""Quality against sampler steps (issue 10): FD (YAMNet) of each sampler at N steps.

    python benchmarks/quality_vs_steps.py --model foley-small --prompts test96.csv --out qvs

A command-line front for :func:`foleyldm.evaluation.steps_sweep.steps_sweep` (the model card,
``benchmarks/model_card.py``, runs the same sweep). Every (sampler, steps) cell is a
`foleyldm benchmark-model` run (resumable, OUT/<cell>/) on the same prompts and seeds, with
two FDs: against the prompt set's real reference clips, and against the baseline's clips.
Prints the table and, per sampler, the fewest steps whose FD to the real clips is within
``--tolerance`` (5 %) of the baseline's (DDIM-200).
"""

from __future__ import annotations

import argparse

from foleyldm.evaluation.steps_sweep import steps_sweep


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
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    sweep = steps_sweep(
        args.model,
        args.prompts,
        args.out,
        args.samplers,
        args.steps,
        baseline=args.baseline,
        tolerance=args.tolerance,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(sweep.to_markdown())


if __name__ == "__main__":
    main()
