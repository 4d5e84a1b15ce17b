"""Griffin-Lim mel inversion: a training-free vocoder for the shared mel front end.

Why it is here: a HiFi-GAN needs hours of adversarial training to beat it, and a small one
trained briefly on a CPU does not (measured for foley-small: on real mels, a 0.9 M-parameter
HiFi-GAN after 2,500 L1-only steps turned speech into "Music"/"Synthesizer" for YAMNet, while
32 Griffin-Lim iterations kept "Speech" at 0.99 and "Dog" at 0.5). A model folder selects it
in ``foleyldm.json`` (``"vocoder": "griffin-lim"``); the HiFi-GAN stays the default and the
architecture of every AudioLDM checkpoint. torchaudio has an implementation, but torchaudio is
kept out of the core (ENVIRONMENT.md), so this is the same fast algorithm written on
``torch.stft``.

1. log-mel -> mel magnitude -> linear magnitude by non-negative least squares against the
   filterbank (pseudo-inverse start, multiplicative updates keep it >= 0);
2. fast Griffin-Lim (Perraudin et al., 2013: momentum 0.99) from zero phase, so the result is
   deterministic.
"""

from __future__ import annotations

import torch

from foleyldm.audio.mel import MelConfig, mel_filterbank

_EPS = 1e-8


def mel_to_linear(log_mel: torch.Tensor, cfg: MelConfig, nnls_iters: int = 16) -> torch.Tensor:
    """Log-mel [B, T, M] -> non-negative linear magnitude [B, n_fft // 2 + 1, T]."""
    fb = mel_filterbank(cfg, log_mel.device)  # [M, K]
    mel = torch.exp(log_mel.float()).transpose(1, 2)  # [B, M, T]
    spec = torch.clamp(torch.linalg.pinv(fb) @ mel, min=_EPS)
    gram = fb.T @ fb  # [K, K]
    target = fb.T @ mel
    for _ in range(nnls_iters):  # multiplicative NNLS updates: never negative, error shrinks
        spec = spec * target / (gram @ spec + _EPS)
    return spec


def griffin_lim(
    log_mel: torch.Tensor, cfg: MelConfig, n_iter: int = 32, momentum: float = 0.99
) -> torch.Tensor:
    """Log-mel [B, T, M] (`mel_spectrogram`'s output) -> waveform [B, T * hop] (float32)."""
    if log_mel.ndim != 3 or log_mel.shape[-1] != cfg.n_mels:
        raise ValueError(f"expected log-mel [B, T, {cfg.n_mels}], got {tuple(log_mel.shape)}")
    frames = log_mel.shape[1]
    length = frames * cfg.hop_length
    spec = mel_to_linear(log_mel, cfg)
    # centred STFT of T * hop samples has T + 1 frames: repeat the last one
    spec = torch.cat([spec, spec[..., -1:]], dim=-1)
    window = torch.hann_window(cfg.win_length, periodic=True, device=spec.device)
    n_fft, hop, win = cfg.n_fft, cfg.hop_length, cfg.win_length

    def istft(x: torch.Tensor) -> torch.Tensor:
        return torch.istft(x, n_fft, hop, win, window, center=True, length=length)

    angles = torch.ones_like(spec, dtype=torch.complex64)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = torch.stft(
            istft(spec * angles), n_fft, hop, win, window, center=True, return_complex=True
        )
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + _EPS)
        previous = rebuilt
    return istft(spec * angles)
