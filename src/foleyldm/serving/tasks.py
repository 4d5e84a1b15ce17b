"""Validated requests -> pipeline calls (the server's only link to the library).

Each method returns ``(params, run)``: the parameters to report (with the seed drawn) and a
function the worker calls with its progress callback. Every editing pipeline wraps the one
loaded `TextToAudioPipeline` (``from_pipe``), so the model is loaded once and shared.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch

from foleyldm.errors import InvalidInputError
from foleyldm.pipelines.audio_to_audio import AudioToAudioPipeline
from foleyldm.pipelines.inpaint import InpaintOutput, InpaintPipeline, check_ranges, parse_ranges
from foleyldm.pipelines.output import AudioPipelineOutput
from foleyldm.pipelines.super_resolution import SuperResolutionOutput, SuperResolutionPipeline
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.pipelines.variation import VariationPipeline
from foleyldm.serving.jobs import Clip, Progress, RunFn
from foleyldm.serving.schemas import (
    GenerateRequest,
    InpaintForm,
    SamplingRequest,
    TransferForm,
    UpsampleForm,
    VaryForm,
)

Task = tuple[dict[str, Any], RunFn]


class Tasks:
    """The pipelines the server offers, all on one loaded model."""

    def __init__(self, pipe: TextToAudioPipeline) -> None:
        self.pipe = pipe
        self.transfer_pipe = AudioToAudioPipeline.from_pipe(pipe)
        self.inpaint_pipe = InpaintPipeline.from_pipe(pipe)
        self.upsample_pipe = SuperResolutionPipeline.from_pipe(pipe)
        self.vary_pipe = VariationPipeline.from_pipe(pipe)

    # ---- helpers --------------------------------------------------------------------------
    def _clips(self, out: AudioPipelineOutput, title: str, info: dict[str, Any]) -> list[Clip]:
        wavs = torch.as_tensor(out.waveforms)  # [B, 1, N]
        hop = self.pipe.codec.mel.hop_length
        clips = []
        for j in range(wavs.shape[0]):
            wav = wavs[j, 0].float()
            # The spectrogram of what is delivered (an edit's output is partly the input
            # itself), by the model's own mel front end: [1, 1, T, M] -> [T, M].
            mel = self.pipe.codec.wav_to_mel(wav[None])[0, 0, : math.ceil(wav.shape[-1] / hop)]
            score = None if out.scores is None else float(out.scores[j])
            clips.append(
                Clip(
                    waveform=wav.numpy(),
                    sample_rate=out.sample_rate,
                    mel=mel.float().cpu().numpy(),
                    hop_length=hop,
                    title=title,
                    score=score,
                    info=dict(info),
                )
            )
        return clips

    @staticmethod
    def _seeded(req: SamplingRequest) -> tuple[dict[str, Any], torch.Generator]:
        seed = req.seed if req.seed is not None else random.randrange(2**31)
        params = {**req.model_dump(exclude={"file"}), "seed": seed}
        return params, torch.Generator(device="cpu").manual_seed(seed)

    @staticmethod
    def _callback(progress: Progress) -> Any:
        return lambda step, total, _latents: progress(step, total)

    def _with_input(self, params: dict[str, Any], wav: torch.Tensor) -> dict[str, Any]:
        return {**params, "input_seconds": round(wav.shape[-1] / self.pipe.sample_rate, 3)}

    def _input_kwargs(self, wav: torch.Tensor) -> dict[str, Any]:
        return {"audio": wav, "sample_rate": self.pipe.sample_rate}

    # ---- tasks ----------------------------------------------------------------------------
    def generate(self, req: GenerateRequest) -> Task:
        params, generator = self._seeded(req)

        def run(progress: Progress) -> list[Clip]:
            out = self.pipe(
                req.prompt,
                audio_length_in_s=req.audio_length_in_s,
                num_waveforms_per_prompt=req.num_waveforms_per_prompt,
                num_candidates=req.num_candidates,
                generator=generator,
                callback=self._callback(progress),
                allow_empty_prompt=req.allow_empty_prompt,
                **req.sampling_kwargs(),
            )
            return self._clips(out, req.prompt, {})

        return params, run

    def transfer(self, req: TransferForm, wav: torch.Tensor) -> Task:
        params, generator = self._seeded(req)

        def run(progress: Progress) -> list[Clip]:
            out = self.transfer_pipe(
                prompt=req.prompt,
                strength=req.strength,
                generator=generator,
                callback=self._callback(progress),
                allow_empty_prompt=True,
                **self._input_kwargs(wav),
                **req.sampling_kwargs(),
            )
            return self._clips(out, req.prompt or "style transfer", {})

        return self._with_input(params, wav), run

    def inpaint(self, req: InpaintForm, wav: torch.Tensor) -> Task:
        # Checked now against the clip, so a bad range is a 4xx, not a failed job.
        ranges = check_ranges(parse_ranges(req.ranges), wav.shape[-1] / self.pipe.sample_rate)
        params, generator = self._seeded(req)

        def run(progress: Progress) -> list[Clip]:
            out = self.inpaint_pipe(
                ranges=ranges,
                prompt=req.prompt,
                strength=req.strength,
                crossfade_s=req.crossfade_s,
                generator=generator,
                callback=self._callback(progress),
                **self._input_kwargs(wav),
                **req.sampling_kwargs(),
            )
            assert isinstance(out, InpaintOutput)
            info = {"regenerated": [list(r) for r in out.regenerated]}
            return self._clips(out, req.prompt or "inpainting", info)

        return self._with_input(params, wav), run

    def upsample(self, req: UpsampleForm, wav: torch.Tensor) -> Task:
        nyquist = self.pipe.sample_rate / 2
        if req.cutoff_hz is not None and req.cutoff_hz > nyquist:
            raise InvalidInputError(
                f"cutoff_hz must be at most {nyquist:g} Hz (Nyquist at the model's "
                f"{self.pipe.sample_rate} Hz), got {req.cutoff_hz:g}"
            )
        params, generator = self._seeded(req)

        def run(progress: Progress) -> list[Clip]:
            out = self.upsample_pipe(
                prompt=req.prompt,
                cutoff_hz=req.cutoff_hz,
                generator=generator,
                callback=self._callback(progress),
                **self._input_kwargs(wav),
                **req.sampling_kwargs(),
            )
            assert isinstance(out, SuperResolutionOutput)
            info = {"cutoff_hz": out.cutoff_hz, "cutoff_detected": out.cutoff_detected}
            return self._clips(out, req.prompt or "super-resolution", info)

        return self._with_input(params, wav), run

    def vary(self, req: VaryForm, wav: torch.Tensor) -> Task:
        params, generator = self._seeded(req)

        def run(progress: Progress) -> list[Clip]:
            out = self.vary_pipe(
                audio_length_in_s=req.audio_length_in_s,
                num_waveforms_per_prompt=req.num_waveforms_per_prompt,
                num_candidates=req.num_candidates,
                generator=generator,
                callback=self._callback(progress),
                **self._input_kwargs(wav),
                **req.sampling_kwargs(),
            )
            return self._clips(out, "variation", {})

        return self._with_input(params, wav), run
