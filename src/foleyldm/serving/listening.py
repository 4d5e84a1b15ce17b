"""Listening-test routes: one blinded item at a time, OVL/REL ratings into the SQLite store.

The store (`foleyldm.evaluation.listening.ListeningTest`) owns everything: the blinded ids,
each rater's fixed order (so a rater who comes back resumes where they stopped), rating
checks and the report. A request names a stimulus only by its blinded id; the file behind
it is the one the operator registered when creating the test, re-encoded here as 16-bit WAV
so neither its name, format nor tags can unblind the system.

The store is opened per request: SQLite connections belong to the thread that made them, and
the server answers from a thread pool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from foleyldm.audio.io import AudioError, load_audio, save_audio
from foleyldm.evaluation.listening import ListeningTest
from foleyldm.serving.render import via_file

RATER = Annotated[
    str,
    Query(min_length=1, max_length=100, description="the rater's name (resumes their list)"),
]
STIMULUS = Annotated[str, PathParam(pattern=r"^[0-9a-f]{12}$", description="blinded id")]


class TrialInfo(BaseModel):
    stimulus_id: str
    prompt: str
    audio_url: str


class RaterState(BaseModel):
    rater: str
    done: int = Field(description="items this rater has rated")
    total: int
    trial: TrialInfo | None = Field(description="the next item to rate; None when finished")


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rater: str = Field(min_length=1, max_length=100)
    stimulus_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    ovl: int = Field(ge=1, le=100, description="overall quality, 1-100")
    rel: int = Field(ge=1, le=100, description="relevance to the text, 1-100")


def check_store(path: str | os.PathLike[str]) -> Path:
    """Open the test once at start-up, so a wrong path fails then and not per request."""
    with ListeningTest(path):
        pass
    return Path(path)


def listening_router(path: Path) -> APIRouter:
    router = APIRouter(prefix="/listening", tags=["listening test"])

    def state(test: ListeningTest, rater: str) -> RaterState:
        rater = rater.strip()
        rated = {r["stimulus_id"] for r in test.ratings() if r["rater"] == rater}
        playlist = test.playlist(rater)
        upcoming = [t for t in playlist if t.stimulus_id not in rated]
        trial = None
        if upcoming:
            t = upcoming[0]
            url = f"/api/listening/audio/{t.stimulus_id}"
            trial = TrialInfo(stimulus_id=t.stimulus_id, prompt=t.prompt, audio_url=url)
        return RaterState(rater=rater, done=len(rated), total=len(playlist), trial=trial)

    @router.get("/next", response_model=RaterState)
    def next_item(rater: RATER) -> RaterState:
        """The rater's progress and the next item to rate (their own blinded order)."""
        with ListeningTest(path) as test:
            return state(test, rater)

    @router.post("/rate", response_model=RaterState)
    def rate(rating: Rating) -> RaterState:
        """Store a rating (a second one for the same item replaces the first); returns the
        rater's next item."""
        with ListeningTest(path) as test:
            test.rate(rating.rater, rating.stimulus_id, rating.ovl, rating.rel)
            return state(test, rating.rater)

    @router.get(
        "/audio/{stimulus_id}",
        response_class=Response,
        responses={200: {"content": {"audio/wav": {}}, "description": "the stimulus"}},
    )
    def audio(stimulus_id: STIMULUS) -> Response:
        """A stimulus as 16-bit WAV, by its blinded id."""
        with ListeningTest(path) as test:
            try:
                source = test.audio_path(stimulus_id)
            except ValueError:
                raise HTTPException(404, f"no stimulus {stimulus_id}") from None
        try:
            wav, rate = load_audio(source, sample_rate=None, mono=False)
        except AudioError as e:  # the operator's file went missing or bad since creation
            raise HTTPException(404, f"stimulus {stimulus_id}: audio unavailable ({e})") from None
        data = via_file(".wav", lambda dest: save_audio(dest, wav, rate))
        return Response(data, media_type="audio/wav")

    return router
