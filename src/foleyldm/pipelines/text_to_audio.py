"""Text-to-audio: prompt -> CLAP text embedding -> guided latent diffusion -> VAE -> vocoder."""

from __future__ import annotations

import contextlib
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

import torch
from diffusers import UNet2DConditionModel
from diffusers.utils.torch_utils import randn_tensor

from foleyldm.diffusion.samplers import UnknownSamplerError, make_scheduler, step_kwargs
from foleyldm.diffusion.sampling import StepCallback
from foleyldm.errors import InvalidInputError
from foleyldm.models.clap.base import CLAP
from foleyldm.models.codec import LatentCodec
from foleyldm.pipelines import long_form
from foleyldm.pipelines.output import AudioPipelineOutput

#: Longest generation accepted in one call (clips longer than the model's window are
#: denoised in windows and decoded in tiles, so memory stays bounded; see long_form).
MAX_DURATION_S = 120.0
MAX_STEPS = 1000
MAX_CANDIDATES = 16

#: Fallbacks for a model folder that stores no defaults of its own.
BASE_DEFAULTS: dict[str, Any] = {
    "audio_length_in_s": 5.12,
    "num_inference_steps": 50,
    "guidance_scale": 2.5,
    "sampler": "ddim",
    "eta": 0.0,
    #: The guidance's negative prompt when a call gives none ("": the empty text, the
    #: unconditional embedding of training; a model folder may choose another).
    "negative_prompt": "",
}

Generator = torch.Generator | list[torch.Generator] | None
Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


class TextToAudioPipeline:
    """AudioLDM text-to-audio generation.

    Components: ``unet`` (diffusers ``UNet2DConditionModel`` with FiLM class conditioning),
    ``codec`` (VAE + vocoder + mel front end), ``clap`` (text/audio encoder, or None for a
    checkpoint without one: pass ``prompt_embeds``), and the noise
    schedule ``scheduler_config`` from which every sampler is built.
    """

    def __init__(
        self,
        unet: UNet2DConditionModel,
        codec: LatentCodec,
        clap: CLAP | None,
        scheduler_config: dict[str, Any],
        defaults: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.unet = unet.eval()
        self.codec = codec.eval()
        # None for checkpoints that ship no CLAP (conditioning then comes as prompt_embeds).
        self.clap = clap.eval() if clap is not None else None
        self.scheduler_config = dict(scheduler_config)
        self.defaults = {**BASE_DEFAULTS, **(defaults or {})}
        self.name = name
        #: Mixed precision for the UNet, VAE decoder and vocoder (weights stay float32).
        self.autocast_dtype: torch.dtype | None = None
        #: Text embeddings of recent prompts (the CLAP is frozen here; after changing its
        #: weights call `clear_text_cache`). At most ``text_cache_size`` entries, LRU.
        self.text_cache_size = 256
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        attention_layout: Literal["faithful", "diffusers"] = "faithful",
    ) -> TextToAudioPipeline:
        """Load a model folder (diffusers layout), a released AudioLDM name (e.g.
        ``audioldm-s-full-v2``), a hub id, or build a named preset (random weights).

        ``attention_layout="diffusers"`` reproduces diffusers' AudioLDMPipeline bit for bit;
        the default computes attention as the original network did (see models/unet.py).
        """
        from foleyldm.pipelines.loading import load_pipeline

        return load_pipeline(name_or_path, device, dtype, attention_layout)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write the diffusers layout: ``model_index.json`` + one folder per component."""
        from foleyldm.pipelines.loading import save_pipeline

        save_pipeline(self, directory)

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> TextToAudioPipeline:
        for m in (self.unet, self.codec):
            # Passing dtype=None makes diffusers warn about casting; pass only what is given.
            m.to(device=device) if dtype is None else m.to(device=device, dtype=dtype)
        # CLAP stays float32: it is small next to the UNet and its scores rank candidates.
        if self.clap is not None:
            self.clap.to(device=device)
        return self

    def set_precision(self, precision: Precision) -> TextToAudioPipeline:
        """Use "fp32" (default), or "bf16"/"fp16" autocast of the UNet, VAE and vocoder.

        bf16 pays on CPUs with AVX512-BF16/AMX and on GPUs; fp16 is for GPUs. Weights stay
        float32, so switching back is exact.
        """
        if precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}")
        self.autocast_dtype = PRECISIONS[precision]
        return self

    def autocast(self) -> AbstractContextManager[Any]:
        """The mixed-precision context of ``set_precision`` (a no-op for fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def default_negative_prompt(self) -> str:
        """The guidance's negative prompt when a call names none ("" the empty text; a model
        folder's ``defaults.negative_prompt``, where null also means "")."""
        return str(self.defaults.get("negative_prompt") or "")

    @property
    def components(self) -> dict[str, Any]:
        comps: dict[str, Any] = {
            "unet": self.unet,
            "vae": self.codec.vae,
        }
        if self.codec.vocoder is not None:
            comps["vocoder"] = self.codec.vocoder
        if self.clap is not None:
            comps["clap"] = self.clap
        return comps

    # ---- pieces ---------------------------------------------------------------------------
    def frames_for(self, audio_length_in_s: float) -> int:
        """Mel frames for a duration: rounded up so the latent length fits the UNet."""
        samples = round(audio_length_in_s * self.sample_rate)
        frames = math.ceil(samples / self.codec.mel.hop_length)
        unet_down = 2 ** (len(self.unet.config.block_out_channels) - 1)
        multiple = self.codec.compression * unet_down
        return max(multiple, math.ceil(frames / multiple) * multiple)

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str]) -> torch.Tensor:
        """Prompts -> [B, D] unit-norm CLAP text embeddings in the UNet's dtype."""
        if self.clap is None:
            raise InvalidInputError(
                "this model ships no CLAP text encoder: pass prompt_embeds (and "
                "negative_prompt_embeds) instead of text"
            )
        cache = self._text_cache
        for text in dict.fromkeys(prompts):
            if text in cache:
                cache.move_to_end(text)
            else:  # one at a time: a prompt's embedding never depends on its batch-mates
                cache[text] = self.clap.encode_text([text])[0].float().cpu()
        emb = torch.stack([cache[t] for t in prompts])
        while len(cache) > self.text_cache_size:
            cache.popitem(last=False)
        return emb.to(self.device, self.dtype)

    def clear_text_cache(self) -> None:
        """Forget cached prompt embeddings (after the CLAP's weights changed)."""
        self._text_cache.clear()

    def _check(
        self,
        prompts: list[str] | None,
        prompt_embeds: torch.Tensor | None,
        seconds: float,
        steps: int,
        guidance: float,
        n_wave: int,
        n_cand: int,
        allow_empty_prompt: bool,
    ) -> None:
        if prompts is None and prompt_embeds is None:
            raise InvalidInputError("give a prompt or prompt_embeds")
        if prompts is not None:
            if not prompts:
                raise InvalidInputError("the prompt list is empty")
            if not allow_empty_prompt and any(not p.strip() for p in prompts):
                raise InvalidInputError(
                    "empty prompt; pass allow_empty_prompt=True (CLI: --allow-empty-prompt) "
                    "for unconditional generation"
                )
        dim = self.unet.config.projection_class_embeddings_input_dim
        if prompt_embeds is not None and (
            prompt_embeds.dim() != 2 or prompt_embeds.shape[1] != dim
        ):
            raise InvalidInputError(
                f"prompt_embeds must be [B, {dim}], got {tuple(prompt_embeds.shape)}"
            )
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_DURATION_S):
            raise InvalidInputError(
                f"audio_length_in_s must be in (0, {MAX_DURATION_S:g}] seconds, got {seconds}"
            )
        if not 1 <= steps <= MAX_STEPS:
            raise InvalidInputError(f"num_inference_steps must be in [1, {MAX_STEPS}], got {steps}")
        if not (math.isfinite(guidance) and guidance >= 0):
            raise InvalidInputError(f"guidance_scale must be a finite number >= 0, got {guidance}")
        if n_wave < 1:
            raise InvalidInputError("num_waveforms_per_prompt must be >= 1")
        if not 1 <= n_cand <= MAX_CANDIDATES:
            raise InvalidInputError(f"num_candidates must be in [1, {MAX_CANDIDATES}]")
        if n_cand > 1 and (self.clap is None or not self.clap.can_encode_audio):
            raise InvalidInputError(
                "num_candidates > 1 needs a CLAP audio tower, which this model does not ship"
            )

    @torch.no_grad()
    def score(self, waveforms: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """CLAP audio-text cosine: waveforms [B, 1, N] or [B, N], text [B, D] -> [B]."""
        if self.clap is None or not self.clap.can_encode_audio:
            raise InvalidInputError("scoring needs a CLAP audio tower, which this model lacks")
        audio = self.clap.encode_audio(waveforms.reshape(waveforms.shape[0], -1), self.sample_rate)
        return self.clap.similarity(audio, text_embeds.to(audio.device))

    # ---- generation -----------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
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
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        callback: StepCallback | None = None,
        output_type: Literal["pt", "np"] = "pt",
        score: bool = False,
        return_mels: bool = False,
        return_latents: bool = False,
        allow_empty_prompt: bool = False,
    ) -> AudioPipelineOutput:
        """Generate audio.

        Effective batch E = B * num_waveforms_per_prompt * num_candidates, ordered prompt,
        then waveform, then candidate. ``generator`` may be one generator or a list of E;
        ``latents`` [E, C, T', F'] replaces the initial noise (its length sets the
        generated length, which is then trimmed to ``audio_length_in_s``).

        Returns:
            waveforms [B * num_waveforms_per_prompt, 1, round(seconds * sample_rate)]: of each
            group of candidates, the one whose CLAP audio embedding is closest to its prompt.
        """
        d = self.defaults
        seconds = float(d["audio_length_in_s"] if audio_length_in_s is None else audio_length_in_s)
        steps = int(
            d["num_inference_steps"] if num_inference_steps is None else num_inference_steps
        )
        guidance = float(d["guidance_scale"] if guidance_scale is None else guidance_scale)
        eta = float(d["eta"] if eta is None else eta)
        sampler = sampler or d["sampler"]
        if prompt is not None and not isinstance(prompt, str | list | tuple):
            raise InvalidInputError("prompt must be a string or a list of strings")
        prompts = (
            [prompt] if isinstance(prompt, str) else (None if prompt is None else list(prompt))
        )

        # 1. check inputs
        self._check(
            prompts,
            prompt_embeds,
            seconds,
            steps,
            guidance,
            num_waveforms_per_prompt,
            num_candidates,
            allow_empty_prompt,
        )
        try:
            scheduler = make_scheduler(sampler, self.scheduler_config)
        except UnknownSamplerError as e:
            raise InvalidInputError(str(e)) from None

        # 2. encode prompts (conditional and unconditional = CLAP(negative or ""))
        cond = (
            prompt_embeds.to(self.device, self.dtype)
            if prompt_embeds is not None
            else self.encode_prompt(prompts or [])
        )
        batch = cond.shape[0]
        use_cfg = guidance > 1.0
        uncond = None
        if use_cfg:
            uncond = self._negative(negative_prompt, negative_prompt_embeds, batch)
        repeat = num_waveforms_per_prompt * num_candidates
        cond_e = cond.repeat_interleave(repeat, dim=0)
        uncond_e = uncond.repeat_interleave(repeat, dim=0) if uncond is not None else None
        effective = batch * repeat

        # 3. timesteps
        scheduler.set_timesteps(steps, device=self.device)

        # 4. initial latents
        if isinstance(generator, list) and len(generator) != effective:
            raise InvalidInputError(
                f"got {len(generator)} generators for an effective batch of {effective}"
            )
        if latents is None:
            frames = self.frames_for(seconds)
            shape = (effective, *self.codec.latent_shape(frames))
            latents = randn_tensor(shape, generator=generator, device=self.device, dtype=self.dtype)
        else:
            self._check_latents(latents, effective, seconds)
            latents = latents.to(self.device, self.dtype)
        latents = latents * scheduler.init_noise_sigma

        # 5. denoise (6. decode: latent -> mel -> waveform, trimmed to the request); a clip
        # longer than the model's window is denoised in overlapping windows and decoded in
        # tiles (bounded memory); one that fits takes the plain path unchanged
        tiling = long_form.tiling_for(self)
        with self.autocast():
            latents = long_form.denoise(
                self.unet,
                latents,
                scheduler,
                cond_e,
                uncond_e,
                guidance,
                step_kwargs(scheduler, generator, eta),
                callback,
                tiling,
            )
            mels, wav = long_form.decode(self.codec, latents, tiling)
            wav = wav[:, : round(seconds * self.sample_rate)]
        latents, mels = latents.float(), mels.float()

        # 7. rank candidates by CLAP audio-text cosine and keep the best of each group
        scores = None
        if num_candidates > 1 or score:
            scores = self.score(wav, cond_e).cpu()
        if num_candidates > 1:
            assert scores is not None
            groups = scores.view(-1, num_candidates)
            best = groups.argmax(dim=1) + torch.arange(groups.shape[0]) * num_candidates
            wav, mels, latents, scores = wav[best], mels[best], latents[best], scores[best]

        # 8. output
        out_prompts = [
            p for p in (prompts or [""] * batch) for _ in range(num_waveforms_per_prompt)
        ]
        wav = wav.unsqueeze(1).float().cpu()
        return AudioPipelineOutput(
            waveforms=wav.numpy() if output_type == "np" else wav,
            sample_rate=self.sample_rate,
            prompts=out_prompts,
            scores=scores,
            mels=mels.float().cpu() if return_mels else None,
            latents=latents.float().cpu() if return_latents else None,
        )

    def _negative(
        self,
        negative_prompt: str | list[str] | None,
        negative_prompt_embeds: torch.Tensor | None,
        batch: int,
    ) -> torch.Tensor:
        if negative_prompt_embeds is not None:
            if negative_prompt_embeds.shape[0] != batch:
                raise InvalidInputError("negative_prompt_embeds must have one row per prompt")
            return negative_prompt_embeds.to(self.device, self.dtype)
        if negative_prompt is None:
            negs = [self.default_negative_prompt] * batch
        elif isinstance(negative_prompt, str):
            negs = [negative_prompt] * batch
        else:
            negs = list(negative_prompt)
            if len(negs) != batch:
                raise InvalidInputError(
                    f"{len(negs)} negative prompts for {batch} prompts; give one or one per prompt"
                )
        # Encode each distinct text once (usually just "").
        unique = sorted(set(negs))
        table = dict(zip(unique, self.encode_prompt(unique), strict=True))
        return torch.stack([table[n] for n in negs])

    def _check_latents(self, latents: torch.Tensor, effective: int, seconds: float) -> None:
        c, _, f = self.codec.latent_shape(self.codec.compression)
        if (
            latents.dim() != 4
            or latents.shape[0] != effective
            or latents.shape[1] != c
            or (latents.shape[3] != f)
        ):
            raise InvalidInputError(
                f"latents must be [{effective}, {c}, T, {f}], got {tuple(latents.shape)}"
            )
        samples = latents.shape[2] * self.codec.compression * self.codec.mel.hop_length
        if samples < round(seconds * self.sample_rate):
            raise InvalidInputError(
                f"latents of {latents.shape[2]} frames are shorter than {seconds} s"
            )
