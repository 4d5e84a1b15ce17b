"""Inpainting: regenerate time ranges of a clip and keep the rest (REFERENCE.md §4).

In the latent, the frames covering each range (widened by half a crossfade on each side) are
generated while every other frame is re-imposed from the input's latent at each step and
pasted after the last one. In the waveform, the output is the *original* input outside the
ranges and the generated audio inside, joined by equal-power crossfades centred on the range
borders, so nothing outside the reported ranges changes, not even by the codec's loss
(``paste_original=False`` crossfades with the input's re-synthesis instead, so all the
audio comes from the codec).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from foleyldm.diffusion.masked import KnownRegion
from foleyldm.diffusion.sampling import StepCallback
from foleyldm.errors import InvalidInputError
from foleyldm.pipelines.audio_to_audio import AudioEditingPipeline, AudioInput
from foleyldm.pipelines.output import AudioPipelineOutput
from foleyldm.pipelines.text_to_audio import Generator

TimeRange = tuple[float, float]

_RANGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*-\s*(\d+(?:\.\d*)?|\.\d+)\s*$")


@dataclass
class InpaintOutput(AudioPipelineOutput):
    """`AudioPipelineOutput` plus ``regenerated``: the time ranges (seconds, merged, aligned
    to latent frames) in which the output may differ from the input."""

    regenerated: list[TimeRange] = field(default_factory=list)


def parse_ranges(text: str) -> list[TimeRange]:
    """``"2.0-3.5,7-8"`` -> [(2.0, 3.5), (7.0, 8.0)] (seconds; checked later against a clip)."""
    out = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise InvalidInputError(
                f"bad range {part.strip()!r}: write START-END in seconds, e.g. 2.0-3.5,7-8"
            )
        out.append((float(m.group(1)), float(m.group(2))))
    return out


def check_ranges(ranges: Sequence[TimeRange], duration: float) -> list[TimeRange]:
    """Validate ranges against a clip of ``duration`` seconds; returned sorted."""
    if not ranges:
        raise InvalidInputError("give at least one time range to regenerate")
    slack = 1e-6  # a range written to the clip's printed length must still fit
    checked = []
    for r in ranges:
        if len(r) != 2:
            raise InvalidInputError(f"a range is (start, end) in seconds, got {r!r}")
        start, end = float(r[0]), float(r[1])
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InvalidInputError(f"range {start:g}-{end:g} s is not finite")
        if start >= end:
            raise InvalidInputError(
                f"range {start:g}-{end:g} s is empty or reversed (start must be before end)"
            )
        if start < 0 or end > duration + slack:
            raise InvalidInputError(
                f"range {start:g}-{end:g} s is outside the {duration:.3f} s clip"
            )
        checked.append((start, min(end, duration)))
    return sorted(checked)


def crossfade_gate(
    ranges: Sequence[TimeRange], num_samples: int, sample_rate: int, crossfade_s: float
) -> torch.Tensor:
    """Per-sample share g ∈ [0, 1] of the generated audio [N]: 1 inside the ranges, 0
    outside, linear over ``crossfade_s`` centred on each border inside the clip."""
    t = (torch.arange(num_samples, dtype=torch.float64) + 0.5) / sample_rate
    duration = num_samples / sample_rate
    gate = torch.zeros(num_samples, dtype=torch.float64)
    one = torch.ones_like(t)
    for start, end in ranges:
        if crossfade_s > 0:
            rise = (t - (start - crossfade_s / 2)) / crossfade_s if start > 0 else one
            fall = ((end + crossfade_s / 2) - t) / crossfade_s if end < duration else one
            g = torch.minimum(rise, fall).clamp(0.0, 1.0)
        else:
            g = ((t >= start) & (t < end)).double()
        gate = torch.maximum(gate, g)
    return gate.float()


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class InpaintPipeline(AudioEditingPipeline):
    """Regenerate time ranges of a clip, optionally after a prompt."""

    @torch.no_grad()
    def __call__(
        self,
        audio: AudioInput,
        ranges: Sequence[TimeRange],
        prompt: str | list[str] | None = None,
        negative_prompt: str | list[str] | None = None,
        strength: float = 1.0,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        generator: Generator = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        sample_rate: int | None = None,
        crossfade_s: float = 0.05,
        paste_original: bool = True,
        callback: StepCallback | None = None,
        output_type: Literal["pt", "np"] = "pt",
        return_mels: bool = False,
        return_latents: bool = False,
    ) -> InpaintOutput:
        """Regenerate ``ranges`` of ``audio``.

        Args:
            ranges: (start, end) pairs in seconds inside the clip.
            prompt: what to put there; without one the CLAP audio embedding of the whole
                input conditions the fill (or nothing, for a model without an audio tower).
            strength: 1 fills from pure noise; below 1 the ranges start from the noised
                input (a variation of what was there).
            crossfade_s: equal-power crossfade length at each border (0: hard cut).
            paste_original: outside the ranges output the input itself (True) or its
                re-synthesis, the decoded input latent (False: all audio from the codec).
            Others: as `AudioToAudioPipeline.__call__`.

        Returns:
            `InpaintOutput`: waveforms [B, 1, N] at the input's level and length;
            ``regenerated`` the ranges that changed; ``latents`` [B, C, T', F'] equal the
            input's latent outside them.
        """
        # 1. check inputs, load and encode the clip, build the latent mask
        self._check_strength(strength)
        if not (math.isfinite(crossfade_s) and 0 <= crossfade_s <= 1.0):
            raise InvalidInputError(f"crossfade_s must be in [0, 1] seconds, got {crossfade_s}")
        steps, guidance, scheduler, eta_ = self._settings(
            num_inference_steps, guidance_scale, sampler, eta
        )
        prepared = self.prepare(audio, sample_rate)
        n = prepared.num_samples
        seconds = n / self.sample_rate
        checked = check_ranges(ranges, seconds)
        frame_s = self.codec.compression * self.codec.mel.hop_length / self.sample_rate
        length = prepared.latents.shape[2]
        spans = []
        for start, end in checked:
            a = math.floor(max(0.0, start - crossfade_s / 2) / frame_s + 1e-9)
            # A range reaching the clip's end also frees the padding, so the fill is not
            # pulled towards the silence it was padded with.
            at_end = end >= seconds - 0.5 / self.sample_rate
            b = length if at_end else math.ceil(min(seconds, end + crossfade_s / 2) / frame_s)
            spans.append((a, min(b, length)))
        spans = _merge(spans)
        mask = torch.ones(1, 1, length, 1, device=self.device, dtype=self.pipe.dtype)
        for a, b in spans:
            mask[:, :, a:b] = 0.0
        regenerated = [(a * frame_s, min(b * frame_s, seconds)) for a, b in spans]

        # 2. conditions
        cond, uncond, prompts = self._conditions(
            prompt,
            prompt_embeds,
            negative_prompt,
            negative_prompt_embeds,
            steps,
            guidance,
            seconds,
            True,
            audio_condition=prepared.waveform,
        )
        # 3.-6. masked sampling and decoding
        known = KnownRegion(prepared.latents.expand(cond.shape[0], -1, -1, -1), mask)
        latents = self._sample(
            prepared,
            cond,
            uncond,
            steps,
            guidance,
            scheduler,
            eta_,
            strength,
            generator,
            known,
            callback,
        )
        mels, wav = self._decode(latents)
        # 7. back to the input's level; crossfade with what is kept at the borders
        generated = prepared.restore(wav[:, :n].cpu())
        if paste_original:
            base = prepared.waveform
        else:
            # The input's latent decoded on its own: decoding the edited latent would not
            # reproduce it even where the latent is kept, as the VAE decoder's mid-block
            # attention spans the whole clip.
            base = prepared.restore(self._decode(prepared.latents)[1][:, :n].cpu())
        gate = crossfade_gate(checked, n, self.sample_rate, crossfade_s)
        angle = gate * (math.pi / 2)
        out = base * torch.cos(angle) + generated * torch.sin(angle)
        fields = self._output(
            out, self.sample_rate, prompts, mels, latents, output_type, return_mels, return_latents
        )
        return InpaintOutput(**fields, regenerated=regenerated)
