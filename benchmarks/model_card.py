"""Every number of a model card, from one command (issue 9).

    python benchmarks/model_card.py --model foley-small --data WORK/all.jsonl --out card-eval

Each row is a `foleyldm benchmark-model` run (resumable: re-running reuses finished clips and
cached embeddings) in ``OUT/<row>/``:

- main table, on every captioned clip of the held-out ``test`` split:
  ``ceiling`` (the test clips themselves; FD/KID against the held-out ``valid`` clips),
  ``reconstruct`` (the test clips through the model's VAE and vocoder, no diffusion: the
  most the generator can reach with this decoder), ``model`` (the model's default sampler,
  steps and guidance), ``floor`` (the same preset untrained: ``--floor small``);
- ablations on a fixed random subset (``--subset``, seed 0) of the test prompts: guidance
  scale and text vs audio conditioning at inference (the model is
  trained on audio embeddings; at test time it is conditioned on the caption's CLAP text
  embedding, or on the CLAP audio embedding of the held-out reference clip), the vocoder
  (the model folder's choice vs the other one; a folder without a HiFi-GAN has no table),
  and the guidance's negative prompt (``--negatives``: the model's default vs the others).

- sampler steps on the same subset (``OUT/steps/``): FD (YAMNet) of each ``--samplers`` at
  each ``--steps`` against DDIM-200 (:mod:`foleyldm.evaluation.steps_sweep`, the sweep
  `benchmarks/quality_vs_steps.py` runs on its own; ``--steps`` with no value skips it).

Every row is scored by the model's own CLAP (``--clap`` to change), YAMNet and aisfx. Prints
Markdown tables (also written to ``OUT/tables.md``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from foleyldm.evaluation.benchmark import BenchmarkOptions, run_benchmark
from foleyldm.evaluation.prompt_set import prompts_from_manifest, safe_name
from foleyldm.evaluation.scoring import ScoreOptions
from foleyldm.evaluation.steps_sweep import steps_sweep

#: (column title, feature source, metric key, digits)
COLUMNS = (
    ("FD YAMNet ↓", "yamnet", "fd", 2),
    ("KL YAMNet ↓", "yamnet", "kl_softmax", 3),
    ("IS YAMNet ↑", "yamnet", "is", 2),
    ("FD aisfx ↓", "aisfx", "fd", 2),
    ("CLAP score ↑", "clap", "clap", 3),
    ("T→A R@1 ↑", "clap", "t2a_r1", 3),
    ("T→A R@10 ↑", "clap", "t2a_r10", 3),
    ("pitch ±50c ↑", "probes", "pitch_cents_pass", 2),
    ("speech ↑", "probes", "speech_probability_pass", 2),
    ("s/clip", "generation", "seconds_per_clip", 2),
)


def _cell(values: dict[str, dict[str, float]], source: str, key: str, digits: int) -> str:
    v = values.get(source, {}).get(key)
    return "—" if v is None else f"{v:.{digits}f}"


def table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    head = "| " + " | ".join(["row"] + [c[0] for c in COLUMNS]) + " |"
    lines = [f"### {title}", "", head, "|" + "---|" * (len(COLUMNS) + 1)]
    for label, result in rows:
        cells = [_cell(result["metrics"], s, k, d) for _, s, k, d in COLUMNS]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="foley-small")
    ap.add_argument("--floor", default="small", help="the untrained preset of the same shapes")
    ap.add_argument("--data", required=True, help="the training manifest (its test/valid splits)")
    ap.add_argument("--out", default="card-eval")
    ap.add_argument("--clap", default=None, help="scoring CLAP (default: the model's own)")
    ap.add_argument("--subset", type=int, default=64, help="prompts of the ablations")
    ap.add_argument(
        "--guidance",
        type=float,
        nargs="*",
        default=[1.0, 2.5, 4.0, 6.0],
        help="guidance sweep (the model's default scale is the 'default' row, not repeated)",
    )
    ap.add_argument(
        "--negatives",
        nargs="*",
        default=["", "noise"],
        help="negative prompts ('' the empty text; the model's default is the 'default' row)",
    )
    ap.add_argument("--samplers", nargs="+", default=["ddim", "dpmpp-2m"])
    ap.add_argument("--steps", type=int, nargs="*", default=[10, 25, 50], help="sweep steps")
    ap.add_argument("--baseline", default="ddim:200", help="SAMPLER:STEPS of the steps sweep")
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test, valid, sub = out / "test.csv", out / "valid.csv", out / f"test{args.subset}.csv"
    prompts_from_manifest(args.data, test, "test")
    prompts_from_manifest(args.data, valid, "valid")
    prompts_from_manifest(args.data, sub, "test", limit=args.subset, seed=0)
    clap = args.clap or args.model
    cache = out / "cache"

    def run(row: str, model: str, prompts: Path, **kw: Any) -> dict[str, Any]:
        opts = BenchmarkOptions(
            clap=clap, batch_size=args.batch_size, scoring=ScoreOptions(cache_dir=cache), **kw
        )
        print(f"== {row}", flush=True)
        done = run_benchmark(model, prompts, out / row, opts, log=None)
        return json.loads(json.dumps(done.to_json()))

    defaults = _defaults(args.model)
    has_hifigan, vocoder = defaults.pop("hifigan"), defaults.pop("vocoder")
    main_rows = [
        ("real test clips (ceiling)", run("ceiling", "real", test, reference=valid)),
        (
            "test clips through VAE + vocoder (codec ceiling)",
            run("reconstruct", args.model, test, condition="reconstruct"),
        ),
        (f"{args.model}", run("model", args.model, test)),
        (f"untrained {args.floor} (floor)", run("floor", args.floor, test, **defaults)),
    ]
    guidance = [
        (f"guidance {g}", run(f"guidance-{g}", args.model, sub, guidance=g))
        for g in args.guidance
        if g != defaults["guidance"]  # that row is "default"
    ]
    guidance.insert(0, ("default", run("default-sub", args.model, sub)))
    conditioning = [
        ("text embedding (default)", guidance[0][1]),
        (
            "audio embedding of the reference clip",
            run("audio-cond", args.model, sub, condition="audio"),
        ),
    ]
    # the model's own vocoder, then the other one (a folder without a HiFi-GAN: no table)
    names = {"griffin-lim": "Griffin-Lim", "hifigan": "HiFi-GAN (trained)"}
    other = "hifigan" if vocoder == "griffin-lim" else "griffin-lim"
    vocoders = [(f"{names[vocoder]} (default)", guidance[0][1])]
    if other == "griffin-lim" or has_hifigan:
        vocoders.append((names[other], run(other, args.model, sub, vocoder=other)))
    negatives = [(f'"{defaults["negative"]}" (default)', guidance[0][1])] + [
        (f'"{n}"', run(f"negative-{safe_name(n) or 'empty'}", args.model, sub, negative=n))
        for n in args.negatives
        if n != defaults["negative"]
    ]
    sections = [
        table(f"Held-out test split ({test.name})", main_rows),
        table(f"Guidance scale ({sub.name})", guidance),
        table(f"Conditioning at inference ({sub.name})", conditioning),
        table(f"Negative prompt ({sub.name})", negatives),
    ]
    if len(vocoders) > 1:
        sections.insert(3, table(f"Vocoder ({sub.name})", vocoders))
    if args.steps:
        sweep = steps_sweep(
            args.model,
            sub,
            out / "steps",
            args.samplers,
            args.steps,
            args.baseline,
            batch_size=args.batch_size,
        )
        sections.append(f"### Sampler steps ({sub.name})\n\n{sweep.to_markdown()}")
    tables = "\n\n".join(sections)
    (out / "tables.md").write_text(tables + "\n", encoding="utf-8")
    print(tables)


def _defaults(model: str) -> dict[str, Any]:
    """The model's own sampler, steps, guidance and negative prompt (the floor runs with the
    same)."""
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

    pipe = TextToAudioPipeline.from_pretrained(model)
    d = pipe.defaults
    return {
        "sampler": d.get("sampler"),
        "steps": d.get("num_inference_steps"),
        "guidance": d.get("guidance_scale"),
        "negative": pipe.default_negative_prompt,
        "hifigan": pipe.codec.vocoder is not None,
        "vocoder": pipe.codec.vocoder_mode,
    }


if __name__ == "__main__":
    main()
