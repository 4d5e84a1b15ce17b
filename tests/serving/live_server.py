"""Run the real app with uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
import torch
import uvicorn

from foleyldm.serving.app import ServerSettings, create_app

FINISHED = ("done", "failed", "cancelled")


@contextmanager
def live_server(pipe: Any, **settings: Any) -> Iterator[tuple[str, Any]]:
    """Yield (base url, app) of a server on 127.0.0.1:<free port> until the block ends."""
    app = create_app(pipe, ServerSettings(**settings))
    with serve_app(app) as url:
        yield url, app


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1:<free port>; yield its base url."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    # One intra-op thread: the worker, the server and the test client share two cores, and
    # OpenMP threads spinning against each other make a 0.2 s job take seconds.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        app.state.jobs.resume()
        server.should_exit = True
        thread.join(30)
        sock.close()
        torch.set_num_threads(threads)


def wait_job(client: httpx.Client, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Poll a job until it finishes; return its final JobInfo."""
    deadline = time.monotonic() + timeout
    while True:
        info = client.get(job["url"]).json()
        if info["state"] in FINISHED:
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job['id']} still {info['state']} after {timeout} s")
        time.sleep(0.02)


def wav_bytes(seconds: float, sample_rate: int = 16000, seed: int = 0) -> bytes:
    """A test clip: a 440 Hz tone plus a little noise, as 16-bit WAV bytes."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.standard_normal(n)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def frames(data: bytes) -> int:
    return sf.info(io.BytesIO(data)).frames


def make_listening_test(folder: Any, prompts: int = 2) -> Any:
    """A listening test of 2 systems x ``prompts`` prompts of short tones; returns its path."""
    from foleyldm.evaluation.listening import ListeningTest

    ids = {f"p{i}": f"prompt number {i}" for i in range(prompts)}
    systems = {}
    for k, system in enumerate(("base", "ours")):
        (folder / system).mkdir()
        systems[system] = folder / system
        for i, pid in enumerate(ids):
            (folder / system / f"{pid}.wav").write_bytes(wav_bytes(0.2, seed=10 * k + i))
    path = folder / "test.sqlite"
    ListeningTest.create(path, systems, ids, seed=0).close()
    return path
