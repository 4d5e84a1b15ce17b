"""Waveform <-> latent, behind one object.

encode: waveform -> log-mel -> VAE posterior -> scaled latent
decode: scaled latent -> VAE decoder -> log-mel -> HiFi-GAN vocoder (or Griffin-Lim) -> waveform

Pipelines use this instead of touching mels (STYLE.md lesson 4), so a model with another
front end, VAE compression or vocoder changes nothing upstream.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from diffusers import AutoencoderKL
from torch import nn
from transformers import SpeechT5HifiGan

from foleyldm.audio.griffin_lim import griffin_lim
from foleyldm.audio.mel import MelConfig, mel_spectrogram
from foleyldm.errors import InvalidInputError

VocoderMode = Literal["hifigan", "griffin-lim"]
VOCODER_MODES: tuple[VocoderMode, ...] = ("hifigan", "griffin-lim")


class LatentCodec(nn.Module):
    """The VAE, the vocoder and the mel front end they share.

    Shapes (B batch, N samples, T mel frames, M mel bins, r VAE compression, C latent channels):
    waveform [B, N] <-> mel [B, 1, T, M] <-> latent [B, C, T / r, M / r].

    ``vocoder`` may be None: a codec that only has Griffin-Lim (a model folder that ships no
    HiFi-GAN because its default does not use one; asking it for "hifigan" is an error).
    """

    def __init__(self, vae: AutoencoderKL, vocoder: SpeechT5HifiGan | None, mel: MelConfig) -> None:
        super().__init__()
        if vocoder is not None:
            n_in = vocoder.config.model_in_dim
            if n_in != mel.n_mels:
                raise ValueError(f"vocoder expects {n_in} mel bins, the front end has {mel.n_mels}")
            hop = math.prod(vocoder.config.upsample_rates)
            if hop != mel.hop_length:
                raise ValueError(f"vocoder upsampling {hop} != mel hop {mel.hop_length}")
        self.vae = vae
        self.vocoder = vocoder
        self._vocoder_mode: VocoderMode = "hifigan" if vocoder is not None else "griffin-lim"
        self.griffin_lim_iters = 32
        self.mel = mel

    @property
    def vocoder_mode(self) -> VocoderMode:
        """ "hifigan" (the vocoder network) or "griffin-lim" (`foleyldm.audio.griffin_lim`,
        training-free; a model folder chooses it in foleyldm.json)."""
        return self._vocoder_mode

    @vocoder_mode.setter
    def vocoder_mode(self, mode: str) -> None:
        if mode not in VOCODER_MODES:
            raise InvalidInputError(f"unknown vocoder {mode!r}; choose from {VOCODER_MODES}")
        if mode == "hifigan" and self.vocoder is None:
            raise InvalidInputError(
                "this model ships no HiFi-GAN vocoder (its default is Griffin-Lim); use "
                "--vocoder griffin-lim, or a model folder with a vocoder/"
            )
        self._vocoder_mode = mode

    def with_parts(
        self, vae: AutoencoderKL | None = None, vocoder: SpeechT5HifiGan | None = None
    ) -> LatentCodec:
        """A codec with ``vae`` and/or ``vocoder`` swapped in and this one's settings kept
        (vocoder mode, Griffin-Lim iterations): what a training stage exports."""
        codec = LatentCodec(
            vae if vae is not None else self.vae,
            vocoder if vocoder is not None else self.vocoder,
            self.mel,
        )
        codec.vocoder_mode, codec.griffin_lim_iters = self.vocoder_mode, self.griffin_lim_iters
        return codec

    # ---- geometry -------------------------------------------------------------------------
    @property
    def compression(self) -> int:
        """Mel frames (and bins) per latent frame (bin)."""
        return int(2 ** (len(self.vae.config.block_out_channels) - 1))

    @property
    def latent_channels(self) -> int:
        return int(self.vae.config.latent_channels)

    @property
    def latent_bins(self) -> int:
        return self.mel.n_mels // self.compression

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def latent_shape(self, num_frames: int) -> tuple[int, int, int]:
        """(C, T / r, M / r) for ``num_frames`` mel frames (must divide by r)."""
        if num_frames % self.compression:
            raise ValueError(f"{num_frames} mel frames is not a multiple of {self.compression}")
        return (self.latent_channels, num_frames // self.compression, self.latent_bins)

    # ---- encode ---------------------------------------------------------------------------
    def wav_to_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, N] or [B, 1, N] -> log-mel [B, 1, T, M] in the VAE's dtype."""
        if wav.dim() == 3:
            wav = wav.squeeze(1)
        mel = mel_spectrogram(wav.to(self.vae.device), self.mel)
        return mel.unsqueeze(1).to(self.vae.dtype)

    def encode_mel(
        self,
        mel: torch.Tensor,
        sample_posterior: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Log-mel [B, 1, T, M] -> scaled latent [B, C, T / r, M / r].

        The reference samples the posterior (REFERENCE.md §2); ``sample_posterior=False``
        takes its mean (deterministic).
        """
        dist = self.vae.encode(mel.to(self.vae.device, self.vae.dtype)).latent_dist
        z = dist.sample(generator=generator) if sample_posterior else dist.mean
        return z * self.scaling_factor

    def encode(
        self,
        wav: torch.Tensor,
        sample_posterior: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Waveform [B, N] -> scaled latent. N is cropped to a whole number of latent frames."""
        mel = self.wav_to_mel(wav)
        usable = (mel.shape[2] // self.compression) * self.compression
        if usable == 0:
            raise ValueError("waveform is shorter than one latent frame")
        return self.encode_mel(mel[:, :, :usable], sample_posterior, generator)

    # ---- decode ---------------------------------------------------------------------------
    def decode_mel(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latent [B, C, T', F'] -> log-mel [B, 1, T' * r, F' * r]."""
        # (1 / s) * z, not z / s: the original code and diffusers both multiply, and the
        # rounding difference would otherwise be the only thing keeping us off bit parity.
        z = (1.0 / self.scaling_factor) * latents.to(self.vae.device, self.vae.dtype)
        return self.vae.decode(z).sample

    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel [B, 1, T, M] -> waveform [B, N], N = T * hop (HiFi-GAN's extra tail cut)."""
        if self.vocoder_mode == "griffin-lim":
            x = mel.squeeze(1).to(self.vae.device, torch.float32)
            return griffin_lim(x, self.mel, self.griffin_lim_iters)
        if self.vocoder is None:  # the mode's setter prevents this unless .vocoder was cleared
            raise InvalidInputError("vocoder mode 'hifigan' but this codec has no HiFi-GAN")
        x = mel.squeeze(1).to(self.vocoder.device, self.vocoder.dtype)
        wav = self.vocoder(x)
        return wav[:, : mel.shape[2] * self.mel.hop_length].float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latent -> waveform [B, N]."""
        return self.vocode(self.decode_mel(latents))
