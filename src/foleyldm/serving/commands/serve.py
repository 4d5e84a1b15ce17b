"""``foleyldm serve``: the HTTP API and the web studio on one loaded model."""

from __future__ import annotations

import argparse
import os
import sys

from foleyldm.serving.cli import DEFAULT_MODEL, HelpFormatter


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the HTTP API and the web studio",
        formatter_class=HelpFormatter,
        description="Serve the model over HTTP: a JSON API (OpenAPI schema at /openapi.json, "
        "interactive docs at /docs) and the web studio at /. The model is loaded once; jobs "
        "run one at a time from a bounded queue.",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model folder, hub id, or preset name (tiny is random weights: noise)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument(
        "--queue-size",
        type=int,
        default=8,
        help="most jobs waiting or running; more are refused with 503 and Retry-After",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("FOLEYLDM_API_KEY"),
        help="require this key in the X-API-Key header of /api requests "
        "(default: $FOLEYLDM_API_KEY, else none)",
    )
    p.add_argument(
        "--max-upload-mb", type=float, default=20.0, help="largest request body (uploads)"
    )
    p.add_argument("--max-upload-seconds", type=float, default=60.0, help="longest uploaded clip")
    p.add_argument("--keep-results", type=int, default=64, help="finished jobs kept in memory")
    p.add_argument(
        "--listening-test",
        default=None,
        metavar="TEST.sqlite",
        help="serve this listening test (made with the evaluation module) at /listen",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="mixed precision of UNet, VAE and vocoder",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from foleyldm.serving.app import ServerSettings, create_app, is_loopback
    except ImportError as e:
        from foleyldm.errors import FoleyError

        raise FoleyError(
            f"serve needs the serve extra ({e.name} is missing): pip install 'foleyldm[serve]'"
        ) from None
    from foleyldm.errors import FoleyError
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

    if args.queue_size < 1:
        raise FoleyError("--queue-size must be at least 1")
    if not 1 <= args.port <= 65535:
        raise FoleyError("--port must be in [1, 65535]")
    settings = ServerSettings(
        queue_size=args.queue_size,
        api_key=args.api_key or None,
        max_upload_mb=args.max_upload_mb,
        max_upload_seconds=args.max_upload_seconds,
        keep_results=args.keep_results,
        listening_test=args.listening_test,
    )
    pipe = TextToAudioPipeline.from_pretrained(args.model, device=args.device)
    pipe.set_precision(args.precision)
    app = create_app(pipe, settings)
    if settings.api_key is None and not is_loopback(args.host):
        print(
            f"warning: serving on {args.host} without --api-key: anyone who can reach it can "
            "queue jobs",
            file=sys.stderr,
        )
    print(f"foleyldm studio: http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
