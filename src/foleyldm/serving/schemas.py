"""Request and response models of the HTTP API (pydantic; they make the OpenAPI schema).

Field names are the pipelines' own argument names (STYLE.md lesson 1), so a request body reads
like the Python call it becomes. Bounds come from the pipelines' constants; checks that need
the loaded model or the uploaded clip (a cutoff above Nyquist, ranges outside the clip) are
the pipelines' own, run when the job is submitted.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from foleyldm.diffusion.samplers import SAMPLERS
from foleyldm.pipelines.text_to_audio import MAX_CANDIDATES, MAX_DURATION_S, MAX_STEPS

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**63 - 1
MAX_GUIDANCE = 100.0

_SAMPLER_FIELD = Field(
    None,
    description="solver (default: the model's)",
    json_schema_extra={"enum": list(SAMPLERS)},
)


class SamplingRequest(BaseModel):
    """The knobs every request shares."""

    model_config = ConfigDict(extra="forbid")

    negative_prompt: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="what to steer away from (default: the model's)",
    )
    num_inference_steps: int | None = Field(
        None, ge=1, le=MAX_STEPS, description="denoising steps (default: the model's)"
    )
    guidance_scale: float | None = Field(
        None,
        ge=0,
        le=MAX_GUIDANCE,
        allow_inf_nan=False,
        description="classifier-free guidance scale (default: the model's)",
    )
    sampler: str | None = _SAMPLER_FIELD
    eta: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="DDIM eta (default: the model's)"
    )
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="same seed, same audio (default: random, reported)"
    )

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, v: str | None) -> str | None:
        if v is not None and v not in SAMPLERS:
            raise ValueError(f"unknown sampler {v!r}; choose one of: {', '.join(SAMPLERS)}")
        return v

    def sampling_kwargs(self) -> dict[str, Any]:
        """The pipeline keyword arguments every request shares (seed excluded)."""
        return {
            "negative_prompt": self.negative_prompt,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "sampler": self.sampler,
            "eta": self.eta,
        }


class _Batch(BaseModel):
    num_waveforms_per_prompt: int = Field(1, ge=1, le=MAX_CANDIDATES, description="outputs")
    num_candidates: int = Field(
        1,
        ge=1,
        le=MAX_CANDIDATES,
        description="generate N per output and keep the one CLAP ranks best",
    )

    @model_validator(mode="after")
    def _batch_size(self) -> _Batch:
        if self.num_waveforms_per_prompt * self.num_candidates > MAX_CANDIDATES:
            raise ValueError(
                f"num_waveforms_per_prompt × num_candidates must be at most {MAX_CANDIDATES}"
            )
        return self


class GenerateRequest(SamplingRequest, _Batch):
    """Text-to-audio."""

    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="what to hear")
    audio_length_in_s: float | None = Field(
        None,
        gt=0,
        le=MAX_DURATION_S,
        allow_inf_nan=False,
        description="seconds of audio (default: the model's)",
    )
    allow_empty_prompt: bool = Field(False, description="allow '' (unconditional generation)")

    @model_validator(mode="after")
    def _prompt_given(self) -> GenerateRequest:
        if not self.allow_empty_prompt and not self.prompt.strip():
            raise ValueError("prompt is empty; set allow_empty_prompt for unconditional audio")
        return self


class _Upload(BaseModel):
    # The file is a field of the form model, so unknown form fields can still be refused.
    # "format: binary" as well, so OpenAPI 3.0 tools (schemathesis among them) send a file.
    file: UploadFile = Field(
        description="the input clip (wav, flac, ogg, ...)", json_schema_extra={"format": "binary"}
    )


class _EditPrompt(BaseModel):
    prompt: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="target text (default: none; the input's CLAP audio embedding conditions)",
    )


class TransferForm(SamplingRequest, _EditPrompt, _Upload):
    """Style transfer: the uploaded clip re-imagined after the prompt."""

    strength: float = Field(
        0.5, ge=0, le=1, allow_inf_nan=False, description="0 = the input, 1 = plain generation"
    )


class InpaintForm(SamplingRequest, _EditPrompt, _Upload):
    """Inpainting: regenerate time ranges of the uploaded clip."""

    ranges: str = Field(
        max_length=2000,
        description="START-END seconds, comma-separated, e.g. '2.0-3.5,7-8'",
        examples=["0.1-0.2"],
    )
    strength: float = Field(1.0, ge=0, le=1, allow_inf_nan=False, description="1 = fill from noise")
    crossfade_s: float = Field(
        0.05, ge=0, le=1, allow_inf_nan=False, description="crossfade at each border (s)"
    )


class UpsampleForm(SamplingRequest, _EditPrompt, _Upload):
    """Super-resolution: regenerate the bands above the uploaded clip's cutoff."""

    cutoff_hz: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="the input's band limit in Hz, at most Nyquist (default: detected)",
    )


class VaryForm(SamplingRequest, _Batch, _Upload):
    """Variation: new clips like the uploaded one (its CLAP audio embedding, no text)."""

    audio_length_in_s: float | None = Field(
        None,
        gt=0,
        le=MAX_DURATION_S,
        allow_inf_nan=False,
        description="seconds of audio (default: the input's length)",
    )


# ---- responses ----------------------------------------------------------------------------
class ClipInfo(BaseModel):
    index: int
    sample_rate: int
    num_samples: int
    duration_s: float
    score: float | None = Field(None, description="CLAP audio-text cosine, when computed")
    info: dict[str, Any] = Field(
        default_factory=dict, description="what the edit reports (cutoff, regenerated ranges)"
    )
    audio_url: str = Field(description="WAV; add ?format=flac for FLAC")
    spectrogram_url: str


class JobInfo(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    step: int = Field(description="denoising steps done")
    total: int = Field(description="denoising steps in all (0 until the first step)")
    queue_position: int | None = Field(None, description="0 = next to run; None once started")
    cancel_requested: bool
    error: str | None
    params: dict[str, Any] = Field(description="the parameters used (with the seed drawn)")
    clips: list[ClipInfo]
    created_at: float
    started_at: float | None
    finished_at: float | None
    url: str


class Health(BaseModel):
    status: Literal["ok", "unhealthy"]
    model: str | None
    sample_rate: int
    queue_active: int = Field(description="jobs waiting or running")
    queue_capacity: int


class ServerInfo(BaseModel):
    model: str | None
    sample_rate: int
    defaults: dict[str, Any]
    samplers: dict[str, str]
    limits: dict[str, float]
    endpoints: list[str]
    listening_test: bool


class Problem(BaseModel):
    detail: str
