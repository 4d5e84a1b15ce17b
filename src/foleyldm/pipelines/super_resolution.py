"""Super-resolution (bandwidth extension): regenerate the mel bands above a cutoff.

1. The cutoff is given (``cutoff_hz``) or detected from the input's spectrum: the highest
   frequency whose time-averaged power (smoothed over ~80 Hz) is within ``threshold_db``
   (50 dB) of the strongest band's. That fits steep band limits (resampling, codecs,
   telephone bands); after a gentle low-pass, pass ``cutoff_hz``.
2. Mel bins whose filter lies wholly below the cutoff are known; latent frequency bins
   made only of known mel bins (bin j covers mel bins [j·r, (j+1)·r)) are re-imposed at
   every step and pasted after the last (REFERENCE.md §4's frequency mask).
3. The decoded mel gets the input's own log-mel back in the known bins before vocoding.
4. With ``paste_original`` (default) the output waveform is the input below the cutoff and
   the generated audio above, spliced in the STFT domain over a 100 Hz crossover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from foleyldm.audio.mel import MelConfig, mel_filterbank
from foleyldm.diffusion.masked import KnownRegion
from foleyldm.diffusion.sampling import StepCallback
from foleyldm.errors import InvalidInputError
from foleyldm.pipelines import long_form
from foleyldm.pipelines.audio_to_audio import AudioEditingPipeline, AudioInput
from foleyldm.pipelines.output import AudioPipelineOutput
from foleyldm.pipelines.text_to_audio import Generator

#: STFT of cutoff detection and of the waveform splice.
_N_FFT = 1024
_HOP = 256
#: Width of the linear crossover below the cutoff in the waveform splice.
CROSSOVER_HZ = 100.0


@dataclass
class SuperResolutionOutput(AudioPipelineOutput):
    """`AudioPipelineOutput` plus the cutoff used.

    Attributes:
        cutoff_hz: the band limit the input was treated as having.
        cutoff_detected: True when it was measured from the input, False when given.
        kept_mel_bins: mel bins [0, k) taken from the input.
        kept_latent_bins: latent frequency bins [0, k) re-imposed from the input's latent.
    """

    cutoff_hz: float = 0.0
    cutoff_detected: bool = False
    kept_mel_bins: int = 0
    kept_latent_bins: int = 0


def _stft(wav: torch.Tensor) -> torch.Tensor:
    window = torch.hann_window(_N_FFT, device=wav.device)
    return torch.stft(wav, _N_FFT, _HOP, window=window, center=True, return_complex=True)


def detect_cutoff(wav: torch.Tensor, sample_rate: int, threshold_db: float = 50.0) -> float:
    """Band limit of a waveform [N]: the highest frequency whose time-averaged power (over
    5 FFT bins, ~80 Hz at 16 kHz) is within ``threshold_db`` of the peak band's.

    Raises:
        InvalidInputError: for a silent clip.
    """
    x = wav.float()
    if x.shape[-1] < _N_FFT:
        x = torch.nn.functional.pad(x, (0, _N_FFT - x.shape[-1]))
    # No centring: reflect-padded edges would leak broadband energy above the band limit.
    window = torch.hann_window(_N_FFT, device=x.device)
    spec = torch.stft(x, _N_FFT, _HOP, window=window, center=False, return_complex=True)
    power = spec.abs().pow(2).mean(dim=-1).cpu().double()  # [n_fft / 2 + 1]; no float64 on MPS
    smooth = torch.nn.functional.avg_pool1d(power[None, None], 5, 1, 2, count_include_pad=False)
    level = smooth[0, 0]
    peak = float(level.max())
    if peak <= 0:
        raise InvalidInputError("the input is silent: no bandwidth to detect; pass cutoff_hz")
    loud = torch.nonzero(10 * torch.log10(level / peak) >= -threshold_db).flatten()
    top = int(loud.max())
    if top >= len(level) - 1:
        return sample_rate / 2
    # The 5-bin smoothing carries an edge 2 bins up; report the upper edge of bin top - 2.
    return max(1, top - 1) * sample_rate / _N_FFT


def known_mel_bins(mel_cfg: MelConfig, cutoff_hz: float) -> int:
    """Mel bins whose whole filter lies at or below ``cutoff_hz`` (bins are ascending)."""
    fb = mel_filterbank(mel_cfg)  # [M, n_fft / 2 + 1]
    freqs = torch.arange(fb.shape[1], dtype=torch.float64) * mel_cfg.sample_rate / mel_cfg.n_fft
    count = 0
    for row in fb:
        top = float(freqs[torch.nonzero(row > 0).flatten().max()]) if (row > 0).any() else 0.0
        if top > cutoff_hz:
            break
        count += 1
    return count


def splice(
    low: torch.Tensor, high: torch.Tensor, sample_rate: int, cutoff_hz: float
) -> torch.Tensor:
    """``low`` below the cutoff, ``high`` above, in the STFT domain: [B, N], [B, N] -> [B, N].

    The weight of ``low`` is 1 up to ``cutoff_hz - 100 Hz``, falls linearly to 0 at the
    cutoff, and stays 0 above.
    """
    n = low.shape[-1]
    freqs = torch.fft.rfftfreq(_N_FFT, 1.0 / sample_rate).to(low.device)
    width = min(CROSSOVER_HZ, cutoff_hz)
    w = ((cutoff_hz - freqs) / width).clamp(0.0, 1.0).view(-1, 1)
    mixed = _stft(low) * w + _stft(high) * (1 - w)
    window = torch.hann_window(_N_FFT, device=low.device)
    return torch.istft(mixed, _N_FFT, _HOP, window=window, center=True, length=n)


class SuperResolutionPipeline(AudioEditingPipeline):
    """Extend a band-limited clip to the model's full bandwidth."""

    @torch.no_grad()
    def __call__(
        self,
        audio: AudioInput,
        prompt: str | list[str] | None = None,
        cutoff_hz: float | None = None,
        threshold_db: float = 50.0,
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        generator: Generator = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        sample_rate: int | None = None,
        paste_original: bool = True,
        callback: StepCallback | None = None,
        output_type: Literal["pt", "np"] = "pt",
        return_mels: bool = False,
        return_latents: bool = False,
    ) -> SuperResolutionOutput:
        """Regenerate what lies above the cutoff of ``audio``.

        Args:
            cutoff_hz: the input's band limit, in (0, Nyquist]; detected when None.
            threshold_db: detection threshold below the peak band (see `detect_cutoff`).
            prompt: optional; without one the CLAP audio embedding of the input conditions.
            paste_original: keep the input's own waveform below the cutoff (True) or the
                vocoded result everywhere (False).
            Others: as `AudioToAudioPipeline.__call__`.

        Returns:
            `SuperResolutionOutput`: waveforms [B, 1, N] at the input's level and length,
            the cutoff used and the kept mel / latent bins; ``mels`` [B, 1, T, M] hold the
            input's log-mel in the kept bins.
        """
        # 1. check inputs, load and encode the clip, find the cutoff
        nyquist = self.sample_rate / 2
        if cutoff_hz is not None and not (math.isfinite(cutoff_hz) and 0 < cutoff_hz <= nyquist):
            raise InvalidInputError(
                f"cutoff_hz must be in (0, {nyquist:g}] Hz (Nyquist at the model's "
                f"{self.sample_rate} Hz), got {cutoff_hz:g}"
            )
        if not (math.isfinite(threshold_db) and threshold_db > 0):
            raise InvalidInputError(f"threshold_db must be a positive number, got {threshold_db}")
        steps, guidance, scheduler, eta_ = self._settings(
            num_inference_steps, guidance_scale, sampler, eta
        )
        prepared = self.prepare(audio, sample_rate)
        n = prepared.num_samples
        detected = cutoff_hz is None
        cutoff = (
            detect_cutoff(prepared.normalized, self.sample_rate, threshold_db)
            if cutoff_hz is None
            else float(cutoff_hz)
        )
        kept_mel = known_mel_bins(self.codec.mel, cutoff)
        kept_latent = kept_mel // self.codec.compression
        bins = self.codec.latent_bins
        mask = torch.zeros(1, 1, 1, bins, device=self.device, dtype=self.pipe.dtype)
        mask[..., :kept_latent] = 1.0

        # 2. conditions
        cond, uncond, prompts = self._conditions(
            prompt,
            prompt_embeds,
            negative_prompt,
            negative_prompt_embeds,
            steps,
            guidance,
            n / self.sample_rate,
            True,
            audio_condition=prepared.waveform,
        )
        batch = cond.shape[0]
        known = KnownRegion(prepared.latents.expand(batch, -1, -1, -1), mask)

        # 3.-5. masked sampling (nothing to run when every bin is known), decoding
        tiling = long_form.tiling_for(self.pipe)
        if kept_latent == bins:
            latents = known.latents.float()
        else:
            latents = self._sample(
                prepared,
                cond,
                uncond,
                steps,
                guidance,
                scheduler,
                eta_,
                1.0,
                generator,
                known,
                callback,
            )
        with self.pipe.autocast():
            mels = long_form.decode_mel(self.codec, latents, tiling).float()
        # 6. the input's own log-mel in the known bins, then the vocoder
        mels[..., :kept_mel] = prepared.mel[..., :kept_mel].to(mels.dtype)
        with self.pipe.autocast():
            wav = long_form.vocode(self.codec, mels, tiling).float()[:, :n].cpu()
        # 7. the input below the cutoff, the generation above; back to the input's level
        if paste_original:
            low = prepared.normalized.expand(batch, -1)
            wav = splice(low, wav, self.sample_rate, cutoff)
        out = prepared.restore(wav)
        fields = self._output(
            out, self.sample_rate, prompts, mels, latents, output_type, return_mels, return_latents
        )
        return SuperResolutionOutput(
            **fields,
            cutoff_hz=cutoff,
            cutoff_detected=detected,
            kept_mel_bins=kept_mel,
            kept_latent_bins=kept_latent,
        )
