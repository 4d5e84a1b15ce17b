"""The HTTP API and the web studio: an ASGI app around one loaded pipeline.

Why FastAPI + uvicorn and not Gradio: the issue asks for things Gradio decides for you and
we need to control and test — our own bounded queue with 503 + Retry-After, one worker
thread, cancellation through the step callback, upload caps enforced before a body is read,
an API-key header, and a plain OpenAPI schema that schemathesis can fuzz. FastAPI gives
validated pydantic models and that schema for free; the studio is a static page of plain
HTML/CSS/JS (no build step, no CDN) served from memory by the same app, and it calls the
same public API as any other client. Gradio would add a large dependency tree, its own
queue and a websocket protocol that hides the API the page uses.

The server holds no logic (STYLE.md lesson 15): requests are validated (`schemas`), turned
into pipeline calls (`tasks`), queued (`jobs`) and their results encoded (`render`). No path
from a request ever reaches the filesystem: static files are read once at start-up into a
dict, results live in memory, uploads are decoded from bytes.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import torch
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foleyldm.audio.io import AudioError, load_audio
from foleyldm.diffusion.samplers import SAMPLERS
from foleyldm.errors import FoleyError
from foleyldm.pipelines.text_to_audio import (
    MAX_CANDIDATES,
    MAX_DURATION_S,
    MAX_STEPS,
    TextToAudioPipeline,
)
from foleyldm.serving.jobs import Job, JobQueue, QueueFullError
from foleyldm.serving.render import MEDIA_TYPES, AudioFormat, render
from foleyldm.serving.schemas import (
    ClipInfo,
    GenerateRequest,
    Health,
    InpaintForm,
    JobInfo,
    Problem,
    ServerInfo,
    TransferForm,
    UpsampleForm,
    VaryForm,
)
from foleyldm.serving.tasks import Task, Tasks

API_KEY_HEADER = "X-API-Key"
JOB_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="job id (32 hex digits)")]
CLIP_INDEX = Annotated[int, Path(ge=0, le=MAX_CANDIDATES - 1, description="output index")]
# The upload is a field of each form model; FastAPI then needs telling the body is multipart.
MULTIPART = Form(media_type="multipart/form-data")
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
    "listen.html": "text/html; charset=utf-8",
    "listen.js": "text/javascript; charset=utf-8",
}

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or wrong API key"}
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    404: {"model": Problem, "description": "unknown or expired job"},
}
_SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    413: {"model": Problem, "description": "request body too large"},
    503: {"model": Problem, "description": "queue full: retry after Retry-After seconds"},
}


@dataclass
class ServerSettings:
    """What ``foleyldm serve`` configures besides the model.

    Attributes:
        queue_size: most jobs waiting or running; more get 503.
        api_key: when set, every /api route needs it in the ``X-API-Key`` header.
        max_upload_mb: largest request body (uploads included).
        max_upload_seconds: longest uploaded clip.
        keep_results: most finished jobs whose results stay in memory.
        max_results_mb: most memory the kept results may take.
        listening_test: a listening-test SQLite file (`foleyldm.evaluation.listening`) to
            serve at /listen; None for none.
    """

    queue_size: int = 8
    api_key: str | None = None
    max_upload_mb: float = 20.0
    max_upload_seconds: float = 60.0
    keep_results: int = 64
    max_results_mb: float = 256.0
    listening_test: str | None = None


class BodyLimit:
    """ASGI middleware: refuse (413) a request body larger than ``max_bytes``, from the
    Content-Length header before reading, or while reading when it is chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes / 2**20:g} MB"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await JSONResponse({"detail": "bad Content-Length"}, 400)(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await JSONResponse({"detail": too_big}, 413)(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, too_big)
            return message

        await self.app(scope, limited, send)


def _read_static() -> dict[str, bytes]:
    folder = resources.files("foleyldm.serving") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC_FILES}


def _first_error(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "invalid request"
    e = errors[0]
    if e.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    loc = list(e.get("loc", ()))
    where = ".".join(str(p) for p in loc[1:] if p != "form") if len(loc) > 1 else ""
    msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def create_app(pipe: TextToAudioPipeline, settings: ServerSettings | None = None) -> FastAPI:
    """The ASGI app serving ``pipe`` (loaded once, by the caller)."""
    settings = settings or ServerSettings()
    if settings.max_upload_seconds > MAX_DURATION_S:
        raise ValueError(f"max_upload_seconds must be at most {MAX_DURATION_S:g}")
    jobs = JobQueue(
        capacity=settings.queue_size,
        keep_finished=settings.keep_results,
        max_result_bytes=int(settings.max_results_mb * 2**20),
    )
    tasks = Tasks(pipe)
    static = _read_static()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop()

    app = FastAPI(
        title="foleyldm",
        summary="Text-to-audio latent diffusion (AudioLDM): generate and edit sound.",
        version="1",
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 2**20))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Without "input": it may hold the upload (not JSON) or echo a large body back.
        fields = ("type", "loc", "msg")
        errors = [{k: e[k] for k in fields if k in e} for e in exc.errors()]
        return JSONResponse({"detail": _first_error(errors), "errors": errors}, 422)

    @app.exception_handler(QueueFullError)
    async def _full(_request: Request, exc: QueueFullError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 503, {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(FoleyError)
    async def _bad_input(_request: Request, exc: FoleyError) -> JSONResponse:
        # Raised while checking a submission (unreadable upload, ranges outside the clip).
        return JSONResponse({"detail": " ".join(str(exc).split())}, 422)

    api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="if configured")

    # A default, not Annotated: the annotation of a closure cannot name the local api_key.
    def check_key(key: str | None = Depends(api_key)) -> None:
        expected = settings.api_key
        if expected and not (key and hmac.compare_digest(key.encode(), expected.encode())):
            raise HTTPException(401, f"missing or wrong API key: send it in {API_KEY_HEADER}")

    api = APIRouter(prefix="/api", dependencies=[Depends(check_key)])

    # ---- helpers --------------------------------------------------------------------------
    def info(job: Job) -> JobInfo:
        base = f"/api/jobs/{job.id}"
        clips = [
            ClipInfo(
                index=i,
                sample_rate=c.sample_rate,
                num_samples=int(c.waveform.shape[-1]),
                duration_s=c.waveform.shape[-1] / c.sample_rate,
                score=c.score,
                info=c.info,
                audio_url=f"{base}/clips/{i}/audio",
                spectrogram_url=f"{base}/clips/{i}/spectrogram.png",
            )
            for i, c in enumerate(job.clips)
        ]
        return JobInfo(
            id=job.id,
            kind=job.kind,
            state=job.state,
            step=job.step,
            total=job.total,
            queue_position=jobs.position(job),
            cancel_requested=job.cancel_requested.is_set(),
            error=job.error,
            params=job.params,
            clips=clips,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            url=base,
        )

    def submit(kind: str, task: Task) -> JSONResponse:
        params, run = task
        job = jobs.submit(kind, params, run)
        body = jsonable_encoder(info(job))
        return JSONResponse(body, 202, {"Location": body["url"]})

    async def decode(upload: UploadFile) -> torch.Tensor:
        data = await upload.read()
        cap = settings.max_upload_seconds
        rate = pipe.sample_rate
        # Read a little past the cap, so a longer clip is refused rather than cut.
        try:
            wav, _ = await run_in_threadpool(
                load_audio, data, sample_rate=rate, max_seconds=cap + 0.05
            )
        except AudioError as e:
            reason = re.sub(r"<_io\.BytesIO object at \w+>", "it", str(e)).split(": ", 1)[-1]
            raise HTTPException(422, f"uploaded file: {reason}") from None
        if wav.shape[-1] > round(cap * rate) + 2:
            raise HTTPException(422, f"uploaded clip is longer than {cap:g} s")
        return wav

    def lookup(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id} (unknown, or its results were evicted)")
        return job

    def clip_of(job_id: str, index: int) -> Any:
        job = lookup(job_id)
        if job.state != "done":
            why = f": {job.error}" if job.error else ""
            raise HTTPException(409, f"job {job_id} is {job.state}{why}; no audio")
        if index >= len(job.clips):
            raise HTTPException(404, f"job {job_id} has {len(job.clips)} clip(s)")
        return job.clips[index]

    # ---- routes ---------------------------------------------------------------------------
    @app.get("/health", response_model=Health, tags=["server"])
    def health() -> JSONResponse:
        """Liveness: ok while the worker thread runs."""
        ok = jobs.running
        body = Health(
            status="ok" if ok else "unhealthy",
            model=pipe.name,
            sample_rate=pipe.sample_rate,
            queue_active=jobs.active,
            queue_capacity=jobs.capacity,
        )
        return JSONResponse(jsonable_encoder(body), 200 if ok else 503)

    @api.get("/info", response_model=ServerInfo, responses=_AUTH, tags=["server"])
    def server_info() -> ServerInfo:
        """The model, its defaults, the samplers and the limits (what the studio shows)."""
        return ServerInfo(
            model=pipe.name,
            sample_rate=pipe.sample_rate,
            defaults=jsonable_encoder(pipe.defaults),
            samplers={name: spec[2] for name, spec in SAMPLERS.items()},
            limits={
                "max_duration_s": MAX_DURATION_S,
                "max_steps": MAX_STEPS,
                "max_candidates": MAX_CANDIDATES,
                "max_upload_mb": settings.max_upload_mb,
                "max_upload_seconds": settings.max_upload_seconds,
                "queue_size": settings.queue_size,
            },
            endpoints=["generate", "transfer", "inpaint", "upsample", "vary"],
            listening_test=settings.listening_test is not None,
        )

    @api.post(
        "/generate",
        status_code=202,
        response_model=JobInfo,
        responses=_SUBMIT_ERRORS,
        tags=["generate"],
    )
    def generate(req: GenerateRequest) -> JSONResponse:
        """Text-to-audio: queue a job; poll its url for progress and results."""
        return submit("generate", tasks.generate(req))

    @api.post(
        "/transfer",
        status_code=202,
        response_model=JobInfo,
        responses=_SUBMIT_ERRORS,
        tags=["edit"],
    )
    async def transfer(form: Annotated[TransferForm, MULTIPART]) -> JSONResponse:
        """Style transfer of an uploaded clip towards a prompt."""
        return submit("transfer", tasks.transfer(form, await decode(form.file)))

    @api.post(
        "/inpaint", status_code=202, response_model=JobInfo, responses=_SUBMIT_ERRORS, tags=["edit"]
    )
    async def inpaint(form: Annotated[InpaintForm, MULTIPART]) -> JSONResponse:
        """Regenerate time ranges of an uploaded clip, keep the rest."""
        return submit("inpaint", tasks.inpaint(form, await decode(form.file)))

    @api.post(
        "/upsample",
        status_code=202,
        response_model=JobInfo,
        responses=_SUBMIT_ERRORS,
        tags=["edit"],
    )
    async def upsample(form: Annotated[UpsampleForm, MULTIPART]) -> JSONResponse:
        """Super-resolution: regenerate the bands above an uploaded clip's cutoff."""
        return submit("upsample", tasks.upsample(form, await decode(form.file)))

    @api.post(
        "/vary", status_code=202, response_model=JobInfo, responses=_SUBMIT_ERRORS, tags=["edit"]
    )
    async def vary(form: Annotated[VaryForm, MULTIPART]) -> JSONResponse:
        """Variations: new clips like an uploaded one."""
        return submit("vary", tasks.vary(form, await decode(form.file)))

    @api.get("/jobs/{job_id}", response_model=JobInfo, responses=_ERRORS, tags=["jobs"])
    def job_status(job_id: JOB_ID) -> JobInfo:
        """State, progress (steps done of total), parameters and, once done, the clips."""
        return info(lookup(job_id))

    @api.delete("/jobs/{job_id}", response_model=JobInfo, responses=_ERRORS, tags=["jobs"])
    def cancel_job(job_id: JOB_ID) -> JobInfo:
        """Cancel: a queued job at once, a running one after its current step."""
        lookup(job_id)
        job = jobs.cancel(job_id)
        assert job is not None
        return info(job)

    @api.get(
        "/jobs/{job_id}/clips/{index}/audio",
        response_class=Response,
        responses={
            **_ERRORS,
            200: {"content": {"audio/wav": {}, "audio/flac": {}}, "description": "audio"},
            409: {"model": Problem, "description": "job not done"},
        },
        tags=["jobs"],
    )
    def clip_audio(
        job_id: JOB_ID,
        index: CLIP_INDEX,
        format: Annotated[AudioFormat, Query(description="wav (16-bit) or flac")] = "wav",
    ) -> Response:
        """One output clip as 16-bit WAV or FLAC."""
        data = render(clip_of(job_id, index), format)
        jobs.note_render()
        name = f"foleyldm-{job_id[:8]}-{index}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=MEDIA_TYPES[format], headers=headers)

    @api.get(
        "/jobs/{job_id}/clips/{index}/spectrogram.png",
        response_class=Response,
        responses={
            **_ERRORS,
            200: {"content": {"image/png": {}}, "description": "log-mel image"},
            409: {"model": Problem, "description": "job not done"},
        },
        tags=["jobs"],
    )
    def clip_spectrogram(job_id: JOB_ID, index: CLIP_INDEX) -> Response:
        """One output clip's log-mel spectrogram as a PNG image."""
        data = render(clip_of(job_id, index), "png")
        jobs.note_render()
        return Response(data, media_type="image/png")

    if settings.listening_test is not None:
        from foleyldm.serving.listening import check_store, listening_router

        api.include_router(listening_router(check_store(settings.listening_test)))
    app.include_router(api)

    # ---- the studio page ------------------------------------------------------------------
    def page(name: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return Response(static[name], media_type=STATIC_FILES[name])

        return serve

    app.add_api_route("/", page("index.html"), include_in_schema=False, methods=["GET"])
    app.add_api_route("/listen", page("listen.html"), include_in_schema=False, methods=["GET"])
    for name in STATIC_FILES:
        app.add_api_route(f"/static/{name}", page(name), include_in_schema=False, methods=["GET"])
    return app


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (no API key needed there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
