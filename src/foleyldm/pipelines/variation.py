"""Audio-to-audio variation: generate from the CLAP *audio* embedding of a reference clip.

The LDM was trained on CLAP audio embeddings (REFERENCE.md §5), so conditioning on one asks
for "another clip like this" without any text (REFERENCE.md §4). Everything else is plain
text-to-audio generation with the embedding as ``prompt_embeds``: the same knobs, the same
candidate re-ranking (by CLAP cosine to the reference), long clips windowed alike.
"""

from __future__ import annotations

from typing import Literal

import torch

from foleyldm.diffusion.sampling import StepCallback
from foleyldm.errors import InvalidInputError
from foleyldm.pipelines.audio_to_audio import AudioEditingPipeline, AudioInput
from foleyldm.pipelines.output import AudioPipelineOutput
from foleyldm.pipelines.text_to_audio import MAX_DURATION_S, Generator


class VariationPipeline(AudioEditingPipeline):
    """New clips that sound like a reference clip."""

    @torch.no_grad()
    def __call__(
        self,
        audio: AudioInput,
        negative_prompt: str | list[str] | None = None,
        audio_length_in_s: float | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        num_waveforms_per_prompt: int = 1,
        num_candidates: int = 1,
        sampler: str | None = None,
        eta: float | None = None,
        generator: Generator = None,
        latents: torch.Tensor | None = None,
        sample_rate: int | None = None,
        callback: StepCallback | None = None,
        output_type: Literal["pt", "np"] = "pt",
        score: bool = False,
        return_mels: bool = False,
        return_latents: bool = False,
    ) -> AudioPipelineOutput:
        """Generate variations of ``audio``.

        Args:
            audio: the reference clip (see `AudioEditingPipeline.load_audio`).
            audio_length_in_s: output length; default the reference's (at most 120 s).
            Others: as `TextToAudioPipeline.__call__`; ``negative_prompt`` is text.

        Returns:
            waveforms [num_waveforms_per_prompt, 1, N]; ``scores`` (when computed) are CLAP
            cosines to the reference.
        """
        clap = self.pipe.clap
        if clap is None or not clap.can_encode_audio:
            raise InvalidInputError(
                "variations need a CLAP audio tower, which this model does not ship"
            )
        wav = self.load_audio(audio, sample_rate)
        if audio_length_in_s is None:
            audio_length_in_s = min(wav.shape[-1] / self.sample_rate, MAX_DURATION_S)
        return self.pipe(
            prompt_embeds=self.audio_embedding(wav),
            negative_prompt=negative_prompt,
            audio_length_in_s=audio_length_in_s,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            num_waveforms_per_prompt=num_waveforms_per_prompt,
            num_candidates=num_candidates,
            sampler=sampler,
            eta=eta,
            generator=generator,
            latents=latents,
            callback=callback,
            output_type=output_type,
            score=score,
            return_mels=return_mels,
            return_latents=return_latents,
        )
