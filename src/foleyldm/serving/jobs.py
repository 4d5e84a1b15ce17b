"""Jobs for the HTTP server: a bounded queue and ONE worker thread.

A pipeline call keeps every CPU core busy, so running two at once only makes both slower
and doubles peak memory; the worker therefore runs one job at a time, in submission order.
Admission is bounded: at most ``capacity`` jobs may be waiting or running, and a submission
beyond that raises `QueueFullError` (the server answers 503 with Retry-After).

Progress is the denoising step the pipeline's callback last reported; cancelling a job sets a
flag that the callback checks after every step, so a running job stops within one step.
Finished jobs keep their results in memory, bounded by count and bytes: the oldest finished
jobs are evicted first. Nothing here touches the filesystem.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from foleyldm.errors import FoleyError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled")

#: ``progress(step, total)``: called by a job's run function after every solver step.
Progress = Callable[[int, int], None]


class QueueFullError(FoleyError):
    """The queue holds ``capacity`` jobs already; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobCancelled(Exception):
    """Raised inside a running job (from its progress callback) to abort it."""


@dataclass
class Clip:
    """One output waveform of a job, with what is needed to render it on request.

    Attributes:
        waveform: [N] float32 in [-1, 1].
        mel: [T, M] log-mel for the spectrogram image.
        info: what the pipeline reported besides audio (a detected cutoff, ranges).
        renders: encoded forms made on first request ("wav", "flac", "png") -> bytes.
    """

    waveform: np.ndarray
    sample_rate: int
    mel: np.ndarray
    hop_length: int
    title: str = ""
    score: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    renders: dict[str, bytes] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(self.waveform.nbytes + self.mel.nbytes + sum(map(len, self.renders.values())))


#: A job's work: given the progress callback, call the pipeline and return the clips.
RunFn = Callable[[Progress], list[Clip]]


def _spent(progress: Progress) -> list[Clip]:
    raise RuntimeError("this job has already run")


@dataclass
class Job:
    kind: str
    params: dict[str, Any]
    run: RunFn = field(repr=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: JobState = "queued"
    step: int = 0
    total: int = 0
    error: str | None = None
    clips: list[Clip] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.clips)


class JobQueue:
    """Bounded FIFO of jobs and the single worker thread that runs them.

    Args:
        capacity: most jobs waiting or running at once; more are refused.
        keep_finished: most finished jobs whose results are kept.
        max_result_bytes: most bytes of finished results kept (waveforms, mels, renders).
    """

    def __init__(
        self, capacity: int = 8, keep_finished: int = 64, max_result_bytes: int = 256 << 20
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.keep_finished = keep_finished
        self.max_result_bytes = max_result_bytes
        #: Test and maintenance hook: called in the worker after every step of a job.
        self.step_hook: Callable[[Job], None] | None = None
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # every known job, oldest first
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._active = 0  # waiting + running
        self._mean_seconds = 2.0  # running estimate of one job's time, for Retry-After
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name="foleyldm-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every waiting and running job and join the worker."""
        with self._cond:
            self._stopping = True
            for job in list(self._jobs.values()):
                if not job.finished:
                    job.cancel_requested.set()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            while self._waiting:
                self._finish(self._waiting.popleft(), "cancelled")

    def pause(self) -> None:
        """Let jobs queue up without starting any (they still count against capacity)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    # ---- submission and queries -----------------------------------------------------------
    def submit(self, kind: str, params: dict[str, Any], run: RunFn) -> Job:
        """Queue a job; raises `QueueFullError` when ``capacity`` jobs are already active."""
        with self._cond:
            if self._stopping:
                raise QueueFullError("the server is shutting down", retry_after=self.retry_after())
            if self._active >= self.capacity:
                raise QueueFullError(
                    f"the queue is full ({self.capacity} jobs waiting or running); try again later",
                    retry_after=self.retry_after(),
                )
            job = Job(kind=kind, params=params, run=run)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._active += 1
            self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        """0-based place of a waiting job in the queue (None once it has started)."""
        with self._cond:
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i
            return None

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a job: a waiting one at once, a running one after its current step."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.finished:
                return job
            job.cancel_requested.set()
            if job in self._waiting:
                self._waiting.remove(job)
                self._finish(job, "cancelled")
            return job

    @property
    def active(self) -> int:
        """Jobs waiting or running."""
        with self._cond:
            return self._active

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the running estimate of one job's time."""
        return max(1, min(3600, math.ceil(self._mean_seconds)))

    # ---- worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (self._paused or not self._waiting):
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._waiting.popleft()
                job.state = "running"
                job.started_at = time.time()
            self._run(job)

    def _run(self, job: Job) -> None:
        def progress(step: int, total: int) -> None:
            job.step, job.total = step, total
            if self.step_hook is not None:
                self.step_hook(job)
            if job.cancel_requested.is_set():
                raise JobCancelled

        state: JobState = "failed"
        try:
            if job.cancel_requested.is_set():
                raise JobCancelled
            job.clips = job.run(progress)
            state = "done"
        except JobCancelled:
            state = "cancelled"
        except (FoleyError, ValueError) as e:  # bad input the pipeline caught: say why
            job.error = " ".join(str(e).split()) or type(e).__name__
        except Exception as e:  # a bug: keep the server alive, log the traceback
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.error = f"internal error ({type(e).__name__}); see the server log"
        with self._cond:
            if state == "done" and job.started_at is not None:
                took = time.time() - job.started_at
                self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * took
            self._finish(job, state)

    def _finish(self, job: Job, state: JobState) -> None:
        """Mark a job finished and evict old results. Caller holds the lock."""
        job.state = state
        job.finished_at = time.time()
        job.run = _spent  # drop the closure: it holds the request, uploaded audio included
        if state != "done":
            job.clips = []
        self._active -= 1
        self._evict()

    def _evict(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]  # oldest first
        count, total = len(finished), sum(j.nbytes for j in finished)
        for old in finished:
            if count <= self.keep_finished and total <= self.max_result_bytes:
                break
            del self._jobs[old.id]
            count, total = count - 1, total - old.nbytes

    def note_render(self) -> None:
        """Re-check the memory bound after a clip grew a cached render."""
        with self._cond:
            self._evict()
