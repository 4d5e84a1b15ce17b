"""Audio-to-audio style transfer, and the base every editing pipeline shares.

Style transfer (REFERENCE.md §4, SDEdit): encode the input to a latent z0, noise it to solver
step S - int(strength · S) and denoise the remaining steps with the new prompt. Strength 0
gives back the input's re-synthesis, strength 1 is plain text-to-audio generation (the same
noise, the same loop: identical to `TextToAudioPipeline` with the same generator).

The editing pipelines *compose* a `TextToAudioPipeline` rather than subclass it: their
``__call__`` takes other arguments (an input clip, ranges, a cutoff), which a subclass could
not do without breaking the parent's signature, and composition lets every editor share one
loaded model (`AudioEditingPipeline.from_pipe`). Prompt encoding, negatives, argument checks,
the model's defaults and mixed precision are the wrapped pipeline's own.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, Self

import numpy as np
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from foleyldm.audio.io import AudioError, load_audio, normalize_waveform, pad_or_trim, resample
from foleyldm.diffusion.masked import KnownRegion, sample, start_step_for_strength
from foleyldm.diffusion.samplers import UnknownSamplerError, make_scheduler, step_kwargs
from foleyldm.diffusion.sampling import StepCallback
from foleyldm.errors import InvalidInputError
from foleyldm.models.codec import LatentCodec
from foleyldm.pipelines import long_form
from foleyldm.pipelines.output import AudioPipelineOutput
from foleyldm.pipelines.text_to_audio import MAX_DURATION_S, Generator, TextToAudioPipeline

#: A clip: a file path, an open binary file, its bytes, or a waveform [N] / [1, N].
AudioInput = str | os.PathLike[str] | BinaryIO | bytes | torch.Tensor | np.ndarray

#: AudioLDM's input peak (REFERENCE.md §1).
_PEAK = 0.5


@dataclass
class PreparedInput:
    """An input clip made ready for editing.

    Attributes:
        waveform: the clip at the model's rate [N] (float32, as given).
        normalized: ``(waveform - offset) / scale``, the AudioLDM peak-0.5 normalisation [N].
        scale, offset: undo the normalisation (`restore`); scale 1 for a silent clip.
        mel: log-mel of the normalised clip zero-padded to a whole UNet multiple [1, 1, T, M].
        latents: its VAE posterior mean, scaled [1, C, T / r, F].
    """

    waveform: torch.Tensor
    normalized: torch.Tensor
    scale: float
    offset: float
    mel: torch.Tensor
    latents: torch.Tensor

    @property
    def num_samples(self) -> int:
        return int(self.waveform.shape[-1])

    def restore(self, wav: torch.Tensor) -> torch.Tensor:
        """Model-level audio -> the input's level and DC offset."""
        return wav * self.scale + self.offset


class AudioEditingPipeline:
    """What the editing pipelines share: the wrapped model, input loading and encoding,
    conditions, and the sample -> decode -> trim tail. Not called directly."""

    def __init__(self, pipe: TextToAudioPipeline) -> None:
        self.pipe = pipe

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        attention_layout: Literal["faithful", "diffusers"] = "faithful",
    ) -> Self:
        """Load a model as `TextToAudioPipeline.from_pretrained` does and wrap it."""
        return cls(
            TextToAudioPipeline.from_pretrained(name_or_path, device, dtype, attention_layout)
        )

    @classmethod
    def from_pipe(cls, pipe: TextToAudioPipeline | AudioEditingPipeline) -> Self:
        """Another pipeline on the same (shared, not copied) model."""
        return cls(pipe.pipe if isinstance(pipe, AudioEditingPipeline) else pipe)

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> Self:
        self.pipe.to(device, dtype)
        return self

    @property
    def codec(self) -> LatentCodec:
        return self.pipe.codec

    @property
    def device(self) -> torch.device:
        return self.pipe.device

    @property
    def sample_rate(self) -> int:
        return self.pipe.sample_rate

    # ---- input ----------------------------------------------------------------------------
    def load_audio(self, audio: AudioInput, sample_rate: int | None = None) -> torch.Tensor:
        """A clip -> mono float32 waveform [N] at the model's rate.

        ``sample_rate`` is the rate of a waveform given as a tensor or array (default: the
        model's); files carry their own.

        Raises:
            AudioError: unreadable or empty file, empty or non-finite waveform.
        """
        if isinstance(audio, torch.Tensor | np.ndarray):
            wav = torch.as_tensor(audio).detach().float().cpu()
            if wav.dim() == 2 and wav.shape[0] == 1:
                wav = wav[0]
            if wav.dim() != 1:
                raise AudioError(f"input waveform must be [N] or [1, N], got {tuple(wav.shape)}")
            if wav.numel() == 0:
                raise AudioError("input waveform is empty (0 samples)")
            if not torch.isfinite(wav).all():
                raise AudioError("input waveform contains NaN or Inf samples")
            rate = sample_rate or self.sample_rate
            return resample(wav, rate, self.sample_rate).float()
        return load_audio(audio, self.sample_rate)[0]

    def prepare(self, audio: AudioInput, sample_rate: int | None = None) -> PreparedInput:
        """Load, normalise, pad to the UNet multiple and encode (posterior mean) a clip.

        The posterior *mean*, not a sample (the reference samples): edits then keep exactly
        the same latent every time, and strength 0 returns it unchanged. Padding is silence
        in the waveform (a latent of silence), trimmed off the output again.
        """
        wav = self.load_audio(audio, sample_rate)
        seconds = wav.shape[-1] / self.sample_rate
        if seconds > MAX_DURATION_S:
            raise InvalidInputError(
                f"input audio is {seconds:.1f} s long; at most {MAX_DURATION_S:g} s can be edited"
            )
        x = wav.detach().cpu().double()  # statistics only; MPS has no float64
        offset = float(x.mean())
        top = float((x - offset).abs().max())
        scale = (top + 1e-8) / _PEAK if top > 0 else 1.0
        normalized = normalize_waveform(wav, peak=_PEAK)
        frames = self.pipe.frames_for(seconds)
        padded = pad_or_trim(normalized, frames * self.codec.mel.hop_length)
        mel = self.codec.wav_to_mel(padded[None])
        with torch.no_grad():
            latents = long_form.encode_mel(self.codec, mel, long_form.tiling_for(self.pipe))
        return PreparedInput(wav, normalized, scale, offset, mel, latents.to(self.pipe.dtype))

    # ---- shared steps ---------------------------------------------------------------------
    def _settings(
        self, steps: int | None, guidance: float | None, sampler: str | None, eta: float | None
    ) -> tuple[int, float, SchedulerMixin, float]:
        d = self.pipe.defaults
        n = int(d["num_inference_steps"] if steps is None else steps)
        g = float(d["guidance_scale"] if guidance is None else guidance)
        e = float(d["eta"] if eta is None else eta)
        try:
            scheduler = make_scheduler(sampler or d["sampler"], self.pipe.scheduler_config)
        except UnknownSamplerError as err:
            raise InvalidInputError(str(err)) from None
        return n, g, scheduler, e

    def _conditions(
        self,
        prompt: str | list[str] | None,
        prompt_embeds: torch.Tensor | None,
        negative_prompt: str | list[str] | None,
        negative_prompt_embeds: torch.Tensor | None,
        steps: int,
        guidance: float,
        seconds: float,
        allow_empty_prompt: bool,
        audio_condition: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
        """(cond [B, D], uncond [B, D] or None, prompts): checked by the wrapped pipeline.

        Without a prompt: the CLAP audio embedding of ``audio_condition`` (a waveform [N]) when
        given and the model has an audio tower (the model was trained on audio embeddings,
        so this asks for "more of the same"), else unconditional (CLAP of "").
        """
        if prompt is not None and not isinstance(prompt, str | list | tuple):
            raise InvalidInputError("prompt must be a string or a list of strings")
        prompts = (
            [prompt] if isinstance(prompt, str) else (None if prompt is None else list(prompt))
        )
        clap = self.pipe.clap
        if prompts is None and prompt_embeds is None:
            if audio_condition is not None and clap is not None and clap.can_encode_audio:
                prompt_embeds = self.audio_embedding(audio_condition)
            else:
                prompts, allow_empty_prompt = [""], True
                if negative_prompt is None and negative_prompt_embeds is None:
                    negative_prompt = ""  # cond == uncond: unconditional, whatever the default
        self.pipe._check(
            prompts,
            prompt_embeds,
            min(seconds, MAX_DURATION_S),
            steps,
            guidance,
            1,
            1,
            allow_empty_prompt,
        )
        cond = (
            prompt_embeds.to(self.device, self.pipe.dtype)
            if prompt_embeds is not None
            else self.pipe.encode_prompt(prompts or [])
        )
        uncond = None
        if guidance > 1.0:
            uncond = self.pipe._negative(negative_prompt, negative_prompt_embeds, cond.shape[0])
        return cond, uncond, prompts or [""] * cond.shape[0]

    @torch.no_grad()
    def audio_embedding(self, wav: torch.Tensor) -> torch.Tensor:
        """CLAP audio embedding [1, D] of a (normalised here) waveform [N] at the model rate."""
        clap = self.pipe.clap
        if clap is None or not clap.can_encode_audio:
            raise InvalidInputError("this model ships no CLAP audio tower to embed audio with")
        emb = clap.encode_audio(normalize_waveform(wav, peak=_PEAK)[None], self.sample_rate)
        return emb.to(self.device, self.pipe.dtype)

    def _sample(
        self,
        prepared: PreparedInput,
        cond: torch.Tensor,
        uncond: torch.Tensor | None,
        steps: int,
        guidance: float,
        scheduler: SchedulerMixin,
        eta: float,
        strength: float,
        generator: Generator,
        known: KnownRegion | None,
        callback: StepCallback | None,
    ) -> torch.Tensor:
        """Noise the input's latent to the strength's step, then denoise (keeping ``known``):
        -> final latents [B, C, T', F'] (float32)."""
        batch = cond.shape[0]
        if isinstance(generator, list) and len(generator) != batch:
            raise InvalidInputError(f"got {len(generator)} generators for a batch of {batch}")
        pipe = self.pipe
        scheduler.set_timesteps(steps, device=self.device)
        start = start_step_for_strength(steps, strength)
        init = prepared.latents.expand(batch, -1, -1, -1)
        # Drawn exactly as TextToAudioPipeline draws its x_T, so strength 1 is generation.
        noise = randn_tensor(init.shape, generator=generator, device=self.device, dtype=pipe.dtype)
        tiling = long_form.tiling_for(pipe)
        eps = long_form.model_eps(pipe.unet, cond, uncond, guidance, init.shape[2], tiling)
        with pipe.autocast():
            latents = sample(
                eps,
                scheduler,
                noise,
                init=init,
                start_step=start,
                known=known,
                generator=generator,
                step_kwargs=step_kwargs(scheduler, generator, eta),
                callback=callback,
            )
        return latents.float()

    def _decode(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents -> (mels [B, 1, T, M], waveform [B, T · hop]) at model level, float32."""
        with self.pipe.autocast():
            mels, wav = long_form.decode(self.codec, latents, long_form.tiling_for(self.pipe))
        return mels.float(), wav.float()

    @staticmethod
    def _check_strength(strength: float) -> None:
        if not (isinstance(strength, int | float) and math.isfinite(strength)):
            raise InvalidInputError(f"strength must be a number in [0, 1], got {strength!r}")
        if not 0.0 <= strength <= 1.0:
            raise InvalidInputError(f"strength must be in [0, 1], got {strength}")

    @staticmethod
    def _output(
        wav: torch.Tensor,
        sample_rate: int,
        prompts: list[str],
        mels: torch.Tensor,
        latents: torch.Tensor,
        output_type: str,
        return_mels: bool,
        return_latents: bool,
    ) -> dict[str, Any]:
        w = wav.unsqueeze(1).float().cpu()
        return {
            "waveforms": w.numpy() if output_type == "np" else w,
            "sample_rate": sample_rate,
            "prompts": prompts,
            "mels": mels.cpu() if return_mels else None,
            "latents": latents.cpu() if return_latents else None,
        }


class AudioToAudioPipeline(AudioEditingPipeline):
    """Style transfer: re-imagine an input clip after a prompt, keeping its structure."""

    @torch.no_grad()
    def __call__(
        self,
        audio: AudioInput,
        prompt: str | list[str] | None = None,
        strength: float = 0.5,
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        generator: Generator = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        sample_rate: int | None = None,
        callback: StepCallback | None = None,
        output_type: Literal["pt", "np"] = "pt",
        return_mels: bool = False,
        return_latents: bool = False,
        allow_empty_prompt: bool = False,
    ) -> AudioPipelineOutput:
        """Transfer ``audio`` towards ``prompt``.

        Args:
            audio: the input clip (any length up to 120 s, any rate; see `load_audio`).
            prompt: the target; one string, or a list (one output each, same input).
            strength: 0 returns the input's re-synthesis, 1 ignores the input (plain
                generation); int(strength · steps) solver steps are run.
            sample_rate: rate of ``audio`` when it is a waveform (default: the model's).
            Others: as `TextToAudioPipeline.__call__`.

        Returns:
            waveforms [B, 1, N] at the model level (peak about 0.5 for a trained model), N the
            input's length in samples at the model rate; ``latents`` [B, C, T', F'] are the
            padded final latents (strength 0: the encoded input).
        """
        # 1. check inputs, load and encode the clip
        self._check_strength(strength)
        steps, guidance, scheduler, eta_ = self._settings(
            num_inference_steps, guidance_scale, sampler, eta
        )
        prepared = self.prepare(audio, sample_rate)
        seconds = prepared.num_samples / self.sample_rate
        # 2. conditions
        cond, uncond, prompts = self._conditions(
            prompt,
            prompt_embeds,
            negative_prompt,
            negative_prompt_embeds,
            steps,
            guidance,
            seconds,
            allow_empty_prompt,
        )
        # 3.-6. noise to the strength's step, denoise the rest, decode
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
            None,
            callback,
        )
        mels, wav = self._decode(latents)
        # 7. trim to the input's length
        wav = wav[:, : prepared.num_samples]
        return AudioPipelineOutput(
            **self._output(
                wav,
                self.sample_rate,
                prompts,
                mels,
                latents,
                output_type,
                return_mels,
                return_latents,
            )
        )
