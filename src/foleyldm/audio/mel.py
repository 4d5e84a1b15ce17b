"""The one mel front end: `MelConfig` and `mel_spectrogram`.

Every component that touches mels (VAE, vocoder, data, metrics) imports this module, so a
model's mel definition lives in exactly one place (STYLE.md lesson 5). The defaults are the
AudioLDM 16 kHz / 64-mel front end (REFERENCE.md §1).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

PaddingMode = Literal["center", "hifigan"]


@dataclass(frozen=True)
class MelConfig:
    """Parameters of a log-mel front end.

    padding:
        ``"center"``: reflect-pad ``n_fft // 2`` on both sides (librosa ``center=True``; the
        AudioLDM inference path, "TacotronSTFT").
        ``"hifigan"``: reflect-pad ``(n_fft - hop) // 2`` on both sides, no centring (the
        HiFi-GAN / AudioLDM training path; if ``n_fft - hop`` is odd, the extra sample
        goes on the right).
        Both give ``num_samples // hop_length`` frames (the centre path drops its extra last
        frame, as the reference's ``_pad_spec`` does).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 160
    win_length: int = 1024
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = 8000.0
    log_floor: float = 1e-5
    padding: PaddingMode = "center"

    def __post_init__(self) -> None:
        if self.padding not in ("center", "hifigan"):
            raise ValueError(
                f"MelConfig.padding must be 'center' or 'hifigan', got {self.padding!r}"
            )
        sizes = (self.sample_rate, self.n_fft, self.hop_length, self.win_length, self.n_mels)
        if min(sizes) <= 0:
            raise ValueError("MelConfig sizes must be positive")
        if self.win_length > self.n_fft:
            raise ValueError("MelConfig.win_length must be <= n_fft")
        if self.padding == "hifigan" and self.hop_length > self.n_fft:
            raise ValueError("MelConfig.hop_length must be <= n_fft with 'hifigan' padding")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise ValueError(
                f"MelConfig.fmax {self.fmax} is above Nyquist ({self.sample_rate / 2})"
            )
        fmax = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax:
            raise ValueError(f"MelConfig needs 0 <= fmin < fmax, got fmin={self.fmin}, fmax={fmax}")
        if self.log_floor <= 0:
            raise ValueError("MelConfig.log_floor must be positive (it is the floor under ln)")

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` samples (both padding modes)."""
        return num_samples // self.hop_length

    def num_samples(self, num_frames: int) -> int:
        return num_frames * self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown MelConfig keys: {sorted(unknown)}")
        return cls(**d)


#: The AudioLDM 16 kHz front end, inference path (REFERENCE.md §1).
AUDIOLDM_16K = MelConfig()
#: The same front end with the training-path (HiFi-GAN) padding.
AUDIOLDM_16K_TRAIN = dataclasses.replace(AUDIOLDM_16K, padding="hifigan")


def _slaney_mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """Slaney-scale, Slaney-normalised mel filterbank [n_mels, n_fft // 2 + 1].

    Written here (librosa's `filters.mel(htk=False, norm="slaney")` formula) so that the core
    package does not depend on librosa; tests check equality with librosa.
    """
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        mel = f / f_sp
        log_region = f >= min_log_hz
        mel = np.where(
            log_region, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mel
        )
        return mel

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        f = f_sp * m
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f)

    fmax = cfg.fmax if cfg.fmax is not None else cfg.sample_rate / 2
    # rfftfreq, not linspace(0, sr / 2): the two differ for odd n_fft (librosa uses rfftfreq).
    fftfreqs = np.fft.rfftfreq(cfg.n_fft, d=1.0 / cfg.sample_rate)
    mel_pts = np.linspace(hz_to_mel(np.array(cfg.fmin)), hz_to_mel(np.array(fmax)), cfg.n_mels + 2)
    mel_f = mel_to_hz(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : cfg.n_mels + 2] - mel_f[: cfg.n_mels])
    weights *= enorm[:, None]
    return weights.astype(np.float32)


@functools.lru_cache(maxsize=32)
def _basis(cfg: MelConfig, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Cached for the process: made outside inference mode, or a first call under
    # torch.inference_mode() would leave tensors that a later training step cannot save
    # for backward ("Inference tensors cannot be saved for backward").
    with torch.inference_mode(False):
        fb = torch.from_numpy(_slaney_mel_filterbank(cfg)).to(device)
        window = torch.hann_window(
            cfg.win_length, periodic=True, dtype=torch.float32, device=device
        )
    return fb, window


def mel_filterbank(cfg: MelConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """The cached mel filterbank [n_mels, n_fft // 2 + 1] (float32)."""
    return _basis(cfg, str(torch.device(device)))[0]


def magnitude_spectrogram(wav: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """|STFT| of ``wav`` [..., N] -> [..., n_fft // 2 + 1, T] with T = N // hop (float32)."""
    wav = wav.float()
    lead = wav.shape[:-1]
    x = wav.reshape(-1, wav.shape[-1])
    _, window = _basis(cfg, str(x.device))
    if cfg.padding == "center":
        left = right = cfg.n_fft // 2
    else:
        # The reference pads (n_fft - hop) // 2 on both sides; when n_fft - hop is odd that
        # loses the last frame, so the odd sample goes on the right to keep T = N // hop.
        left = (cfg.n_fft - cfg.hop_length) // 2
        right = cfg.n_fft - cfg.hop_length - left
    if x.shape[-1] <= max(left, right):
        raise ValueError(
            f"waveform of {x.shape[-1]} samples is too short for n_fft={cfg.n_fft} "
            f"(need more than {max(left, right)} samples)"
        )
    x = torch.nn.functional.pad(x.unsqueeze(1), (left, right), mode="reflect").squeeze(1)
    spec = torch.stft(
        x,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=False,
        return_complex=True,
    ).abs()
    frames = cfg.num_frames(wav.shape[-1])
    spec = spec[..., :frames]
    return spec.reshape(*lead, spec.shape[-2], spec.shape[-1])


def mel_spectrogram(wav: torch.Tensor, cfg: MelConfig = AUDIOLDM_16K) -> torch.Tensor:
    """Log-mel spectrogram, time first.

    Args:
        wav: waveform [..., N] at ``cfg.sample_rate`` (any leading batch shape).
        cfg: the front end.

    Returns:
        ``ln(clamp(mel, cfg.log_floor))`` of shape [..., T, n_mels], T = N // hop, float32,
        on ``wav``'s device.
    """
    spec = magnitude_spectrogram(wav, cfg)
    fb = mel_filterbank(cfg, spec.device)
    mel = torch.matmul(fb, spec)  # [..., n_mels, T]
    return torch.log(torch.clamp(mel, min=cfg.log_floor)).transpose(-1, -2)
