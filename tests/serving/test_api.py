"""The HTTP API against the real app on loopback (uvicorn in a thread, tiny preset, httpx)."""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.serving.live_server import (
    frames,
    live_server,
    make_listening_test,
    serve_app,
    wait_job,
    wav_bytes,
)

SR = 16000
FAST = {"num_inference_steps": 2}  # a tiny-preset job then takes ~0.1-0.3 s
FUZZ_EXAMPLES = 25  # per operation


@pytest.fixture(scope="module")
def server(tiny_pipe):
    with live_server(tiny_pipe, queue_size=8, max_upload_mb=1, max_upload_seconds=2) as (url, app):
        yield url, app


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server[0], timeout=60) as c:
        yield c


@pytest.fixture
def jobs(server):
    return server[1].state.jobs


def submit(client, endpoint, **kwargs):
    r = client.post(f"/api/{endpoint}", **kwargs)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["url"]
    return r.json()


# ---- endpoints return audio of the requested length ---------------------------------------
@pytest.mark.parametrize("seconds, outputs", [(0.4, 1), (0.75, 2)])
def test_generate_returns_the_requested_length(client, seconds, outputs):
    body = {"prompt": "a dog barking", "audio_length_in_s": seconds, "seed": 7, **FAST}
    body["num_waveforms_per_prompt"] = outputs
    done = wait_job(client, submit(client, "generate", json=body))
    assert done["state"] == "done", done["error"]
    assert done["step"] == done["total"] == 2
    assert done["params"]["seed"] == 7 and done["params"]["prompt"] == "a dog barking"
    assert len(done["clips"]) == outputs
    for clip in done["clips"]:
        assert clip["num_samples"] == round(seconds * SR)
        wav = client.get(clip["audio_url"])
        assert wav.headers["content-type"] == "audio/wav"
        assert "attachment" in wav.headers["content-disposition"]
        assert frames(wav.content) == round(seconds * SR)
        flac = client.get(clip["audio_url"], params={"format": "flac"})
        assert flac.headers["content-type"] == "audio/flac"
        assert frames(flac.content) == round(seconds * SR)
        png = client.get(clip["spectrogram_url"])
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG")


def test_same_seed_same_audio(client):
    body = {"prompt": "rain", "audio_length_in_s": 0.3, **FAST}
    a, b, c = (
        wait_job(client, submit(client, "generate", json={**body, "seed": s})) for s in (1, 1, 2)
    )
    audio = [client.get(j["clips"][0]["audio_url"]).content for j in (a, b, c)]
    assert audio[0] == audio[1] != audio[2]
    drawn = wait_job(client, submit(client, "generate", json=body))
    assert isinstance(drawn["params"]["seed"], int)  # a random seed is drawn and reported


@pytest.mark.parametrize(
    "endpoint, fields, expected_s",
    [
        ("transfer", {"prompt": "a cat", "strength": "0.6"}, 0.5),
        ("inpaint", {"ranges": "0.1-0.25", "prompt": "a knock"}, 0.5),
        ("upsample", {"cutoff_hz": "4000"}, 0.5),
        ("vary", {"audio_length_in_s": "0.35"}, 0.35),
    ],
)
def test_edit_endpoints_return_the_requested_length(client, endpoint, fields, expected_s):
    upload = {"file": ("in.wav", wav_bytes(0.5, sample_rate=22050), "audio/wav")}
    job = submit(client, endpoint, files=upload, data={**fields, "num_inference_steps": "2"})
    done = wait_job(client, job)
    assert done["state"] == "done", done["error"]
    assert done["kind"] == endpoint
    clip = done["clips"][0]
    assert clip["num_samples"] == round(expected_s * SR)  # 22.05 kHz input resampled to 16 kHz
    assert frames(client.get(clip["audio_url"]).content) == round(expected_s * SR)
    if endpoint == "inpaint":
        (start, end), *_ = clip["info"]["regenerated"]
        assert start <= 0.1 and end >= 0.25
    if endpoint == "upsample":
        assert clip["info"] == {"cutoff_hz": 4000.0, "cutoff_detected": False}
    assert "file" not in done["params"]


# ---- bad requests: 4xx with a message ------------------------------------------------------
_G = "/api/generate"
BAD_JSON = [
    ({"prompt": ""}, "prompt is empty"),
    ({"prompt": "   "}, "prompt is empty"),
    ({}, "prompt: Field required"),
    ({"prompt": "x", "audio_length_in_s": 0}, "audio_length_in_s"),
    ({"prompt": "x", "audio_length_in_s": 121}, "audio_length_in_s"),
    ({"prompt": "x", "num_inference_steps": 0}, "num_inference_steps"),
    ({"prompt": "x", "num_inference_steps": 10**6}, "num_inference_steps"),
    ({"prompt": "x", "num_inference_steps": "many"}, "num_inference_steps"),
    ({"prompt": "x", "guidance_scale": -1}, "guidance_scale"),
    ({"prompt": "x", "sampler": "rk4"}, "unknown sampler 'rk4'"),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"prompt": "x", "num_candidates": 17}, "num_candidates"),
    ({"prompt": "x", "num_candidates": 8, "num_waveforms_per_prompt": 4}, "at most 16"),
    ({"prompt": "x", "steps": 3}, "steps: Extra inputs are not permitted"),
    ({"prompt": "x" * 1001}, "prompt"),
]


@pytest.mark.parametrize("body, message", BAD_JSON)
def test_bad_generate_requests_get_422_with_a_message(client, body, message):
    r = client.post(_G, json=body)
    assert r.status_code == 422
    assert message in r.json()["detail"]


def test_malformed_bodies_get_4xx(client):
    r = client.post(_G, content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    nan = b'{"prompt": "x", "guidance_scale": NaN}'
    r = client.post(_G, content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "guidance_scale" in r.json()["detail"]
    assert client.put(_G, json={"prompt": "x"}).status_code == 405


def test_bad_uploads_get_4xx_with_a_message(client):
    good = wav_bytes(0.5)

    def post(endpoint, data, content=good, name="in.wav"):
        return client.post(f"/api/{endpoint}", files={"file": (name, content)}, data=data)

    cases = [
        (post("inpaint", {"ranges": "0.1-0.9"}), 422, "outside the 0.500 s clip"),
        (post("inpaint", {"ranges": "0.3-0.1"}), 422, "empty or reversed"),
        (post("inpaint", {"ranges": "soon"}), 422, "bad range 'soon'"),
        (post("inpaint", {}), 422, "ranges: Field required"),
        (post("transfer", {"strength": "1.5"}), 422, "strength"),
        (post("transfer", {"bogus": "1"}), 422, "bogus: Extra inputs are not permitted"),
        (post("upsample", {"cutoff_hz": "9000"}), 422, "at most 8000 Hz"),
        (post("vary", {}, content=b"RIFF not really"), 422, "uploaded file: not an audio file"),
        (post("vary", {}, content=b""), 422, "uploaded file"),
        (post("vary", {}, content=wav_bytes(2.5)), 422, "longer than 2 s"),
        (post("vary", {}, content=b"\0" * ((1 << 20) + 1)), 413, "larger than 1 MB"),
        (client.post("/api/vary", data={"num_inference_steps": "2"}), 422, "file: Field required"),
    ]
    for r, status, message in cases:
        assert r.status_code == status, (r.status_code, r.text)
        assert message in r.json()["detail"], r.text
    # A name from the request is never a path: it is only a label of the upload.
    r = post("vary", {"num_inference_steps": "1"}, name="../../../../etc/passwd")
    assert r.status_code == 202


def test_chunked_upload_over_the_cap_is_refused(client):
    def chunks():
        for _ in range(40):
            yield b"\0" * 64 * 1024  # 2.5 MB in all, with no Content-Length

    r = client.post(_G, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_jobs_and_clips_unknown_or_not_ready(client, jobs):
    assert client.get("/api/jobs/" + "0" * 32).status_code == 404
    assert "unknown" in client.get("/api/jobs/" + "0" * 32).json()["detail"]
    assert client.get("/api/jobs/not-an-id").status_code == 422
    assert client.get("/api/jobs/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    jobs.pause()
    try:
        job = submit(client, "generate", json={"prompt": "x", **FAST})
        r = client.get(f"{job['url']}/clips/0/audio")
        assert r.status_code == 409 and "queued" in r.json()["detail"]
        assert (
            client.get(f"{job['url']}/clips/0/audio", params={"format": "mp3"}).status_code == 422
        )
    finally:
        jobs.resume()
    done = wait_job(client, job)
    assert client.get(f"{done['url']}/clips/1/audio").status_code == 404
    assert client.get(f"{done['url']}/clips/99/spectrogram.png").status_code == 422


def test_static_files_come_from_memory_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "foleyldm studio" in page.text
    for name in ("studio.js", "studio.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2Fapp.py", "/app.py"):
        assert client.get(path).status_code == 404, path


# ---- progress, cancellation, the bounded queue ---------------------------------------------
def test_progress_is_readable_while_running_and_cancel_stops_the_job(client, jobs):
    at_step = threading.Event()
    release = threading.Event()

    def hook(job):
        if job.step == 2:
            at_step.set()
            release.wait(10)

    jobs.step_hook = hook
    try:
        job = submit(client, "generate", json={"prompt": "x", "num_inference_steps": 6})
        assert at_step.wait(30)
        running = client.get(job["url"]).json()
        assert (running["state"], running["step"], running["total"]) == ("running", 2, 6)
        cancelled = client.delete(job["url"]).json()
        assert cancelled["cancel_requested"]
        release.set()
        final = wait_job(client, job)
    finally:
        jobs.step_hook = None
        release.set()
    assert final["state"] == "cancelled"
    assert final["step"] == 2 and final["clips"] == []
    assert client.get(f"{job['url']}/clips/0/audio").status_code == 409


def test_cancel_a_queued_job(client, jobs):
    jobs.pause()
    try:
        first = submit(client, "generate", json={"prompt": "x", **FAST})
        second = submit(client, "generate", json={"prompt": "y", **FAST})
        assert client.get(second["url"]).json()["queue_position"] == 1
        assert client.delete(first["url"]).json()["state"] == "cancelled"
        assert client.get(second["url"]).json()["queue_position"] == 0
    finally:
        jobs.resume()
    assert wait_job(client, second)["state"] == "done"


def test_twenty_concurrent_requests_with_a_queue_of_eight(server, client, jobs):
    url = server[0]
    jobs.pause()  # nothing finishes while the 20 arrive, so exactly 8 fit
    try:

        def post(i):
            body = {"prompt": f"clip {i}", "audio_length_in_s": 0.3, **FAST}
            with httpx.Client(base_url=url, timeout=60) as c:
                return c.post(_G, json=body)

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(post, range(20)))
        assert client.get("/health").json()["queue_active"] == 8
    finally:
        jobs.resume()
    accepted = [r for r in answers if r.status_code == 202]
    refused = [r for r in answers if r.status_code != 202]
    assert len(accepted) == 8 and len(refused) == 12
    for r in refused:
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert "queue is full" in r.json()["detail"]
    for r in accepted:
        assert wait_job(client, r.json())["state"] == "done"
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert (health.json()["queue_active"], health.json()["queue_capacity"]) == (0, 8)
    assert client.post(_G, json={"prompt": "after", **FAST}).status_code == 202


def test_failing_jobs_report_why_and_the_worker_goes_on(client, jobs):
    from foleyldm.errors import InvalidInputError

    def bad_input(job):
        raise InvalidInputError("latents must be [1, 8, T, 16]")

    def bug(job):
        raise RuntimeError("boom")

    try:
        jobs.step_hook = bad_input
        failed = wait_job(client, submit(client, "generate", json={"prompt": "x", **FAST}))
        assert (failed["state"], failed["error"]) == ("failed", "latents must be [1, 8, T, 16]")
        jobs.step_hook = bug
        crashed = wait_job(client, submit(client, "generate", json={"prompt": "x", **FAST}))
        assert crashed["state"] == "failed" and "internal error (RuntimeError)" in crashed["error"]
        r = client.get(f"{crashed['url']}/clips/0/audio")
        assert r.status_code == 409 and "internal error" in r.json()["detail"]
    finally:
        jobs.step_hook = None
    assert wait_job(client, submit(client, "generate", json={"prompt": "x", **FAST}))["clips"]
    assert client.get("/health").json()["status"] == "ok"


# ---- settings: API key, eviction -----------------------------------------------------------
def test_api_key_and_result_eviction(tiny_pipe):
    server = live_server(tiny_pipe, api_key="s3cret", keep_results=2)
    with server as (url, _app), httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/health").status_code == 200  # liveness needs no key
        assert c.get("/").status_code == 200  # nor does the page (it asks for the key)
        r = c.get("/api/info")
        assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
        assert c.get("/api/info", headers={"X-API-Key": "wrong"}).status_code == 401
        c.headers["X-API-Key"] = "s3cret"
        assert c.get("/api/info").json()["limits"]["queue_size"] == 8
        done = [
            wait_job(c, submit(c, "generate", json={"prompt": str(i), **FAST})) for i in range(3)
        ]
        assert c.get(done[0]["url"]).status_code == 404  # evicted: oldest of three
        assert c.get(done[2]["clips"][0]["audio_url"]).status_code == 200


# ---- the listening test -------------------------------------------------------------------
def test_listening_test_api(tiny_pipe, tmp_path):
    from foleyldm.evaluation.listening import ListeningTest

    path = make_listening_test(tmp_path)
    server = live_server(tiny_pipe, listening_test=str(path))
    with server as (url, _app), httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/api/info").json()["listening_test"] is True
        state = c.get("/api/listening/next", params={"rater": "ann"}).json()
        assert (state["done"], state["total"]) == (0, 4)
        trial = state["trial"]
        assert set(trial) == {"stimulus_id", "prompt", "audio_url"}  # nothing unblinds
        audio = c.get(trial["audio_url"])
        assert audio.headers["content-type"] == "audio/wav"
        assert frames(audio.content) == round(0.2 * SR)
        assert "content-disposition" not in audio.headers
        rating = {"rater": "ann", "stimulus_id": trial["stimulus_id"], "ovl": 70, "rel": 40}
        for bad, message in [
            ({"ovl": 0}, "ovl"),
            ({"rel": 101}, "rel"),
            ({"ovl": 50.5}, "ovl"),
            ({"stimulus_id": "0" * 12}, "unknown stimulus"),
            ({"rater": ""}, "rater"),
            ({"extra": 1}, "extra"),
        ]:
            r = c.post("/api/listening/rate", json={**rating, **bad})
            assert r.status_code == 422 and message in r.json()["detail"], r.text
        after = c.post("/api/listening/rate", json=rating).json()
        assert after["done"] == 1 and after["trial"]["stimulus_id"] != trial["stimulus_id"]
        # resumable: asking again gives the same next item
        assert c.get("/api/listening/next", params={"rater": "ann"}).json() == after
        assert c.get("/api/listening/audio/" + "0" * 12).status_code == 404
        assert c.get("/api/listening/audio/../../etc").status_code == 404
    with ListeningTest(path) as t:
        (row,) = t.ratings()
    assert (row["rater"], row["ovl"], row["rel"]) == ("ann", 70, 40)


def test_no_listening_routes_without_a_test(client):
    assert client.get("/api/listening/next", params={"rater": "ann"}).status_code == 404
    assert client.get("/api/info").json()["listening_test"] is False


def test_a_bad_listening_test_path_fails_at_start(tiny_pipe, tmp_path):
    from foleyldm.serving.app import ServerSettings, create_app

    with pytest.raises(ValueError, match="no such listening test"):
        create_app(tiny_pipe, ServerSettings(listening_test=str(tmp_path / "missing.sqlite")))


# ---- the OpenAPI schema, fuzzed ------------------------------------------------------------
def test_openapi_schema_lists_every_endpoint(client):
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    for p in ("generate", "transfer", "inpaint", "upsample", "vary", "info"):
        assert f"/api/{p}" in paths
    assert {"/health", "/api/jobs/{job_id}", "/api/jobs/{job_id}/clips/{index}/audio"} <= paths
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]


def test_fuzzed_requests_never_get_a_5xx(tiny_pipe, tmp_path):
    """Schemathesis generates requests for every operation of the OpenAPI schema (valid and
    invalid ones); none may get a server error."""
    schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    # A paused worker and a roomy queue: fuzzing checks validation, not generation, and a
    # full queue (503 by design) would read as a server error.
    test = str(make_listening_test(tmp_path))
    options = {"queue_size": 100_000, "max_upload_mb": 1, "listening_test": test}
    with live_server(tiny_pipe, **options) as (url, app):
        app.state.jobs.pause()
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14

        clip, flip = wav_bytes(0.5), itertools.count()
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case):
                # Half the uploads get a real clip, so fuzzed fields reach the pipelines'
                # own checks (ranges, cutoff) and not only the audio decoder.
                if isinstance(case.body, dict) and "file" in case.body and next(flip) % 2:
                    case.body["file"] = clip
                case.call_and_validate(checks=[not_a_server_error], timeout=30)

            check()


# ---- the command -----------------------------------------------------------------------------
def test_serve_command_wires_its_flags(monkeypatch, tiny_pipe):
    """`foleyldm serve` loads the model once and hands uvicorn an app built from its flags."""
    import uvicorn

    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
    from foleyldm.serving.cli import main

    loads, runs = [], []
    monkeypatch.setattr(
        TextToAudioPipeline, "from_pretrained", lambda *a, **k: loads.append((a, k)) or tiny_pipe
    )
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    flags = ["--queue-size", "3", "--api-key", "k", "--max-upload-mb", "2"]
    assert main(["serve", "--model", "tiny", "--port", "8123", *flags]) == 0
    assert len(loads) == 1 and loads[0][0] == ("tiny",)
    (app, kwargs), *_ = runs
    assert kwargs == {"host": "127.0.0.1", "port": 8123, "log_level": "info"}
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/health").json()["queue_capacity"] == 3
        assert c.get("/api/info").status_code == 401
        c.headers["X-API-Key"] = "k"
        assert c.get("/api/info").json()["limits"]["max_upload_mb"] == 2
        done = wait_job(c, submit(c, "generate", json={"prompt": "a bell", **FAST}))
        assert done["state"] == "done"
    assert main(["serve", "--queue-size", "0"]) == 2  # a clear error, not a traceback


@pytest.mark.slow
def test_serve_command_in_a_fresh_process(tmp_path, request):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("starts a fresh interpreter and model (~10 s): run with -m slow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "foleyldm.serving.cli", "serve", "--model", "tiny"]
    cmd += ["--port", str(port), "--queue-size", "2", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60) as c:
            body = {"prompt": "a bell", "audio_length_in_s": 0.5, **FAST}
            done = wait_job(c, submit(c, "generate", json=body))
            assert frames(c.get(done["clips"][0]["audio_url"]).content) == 8000
            assert c.get("/health").json()["queue_capacity"] == 2
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory
