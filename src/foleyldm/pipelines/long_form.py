"""Long audio with bounded memory: windowed latent denoising and tiled decoding.

A clip longer than the model's window (the AudioLDM training length, 10.24 s, unless the
model's defaults say ``window_s``) is

1. denoised in overlapping windows of the latent: at every solver call each window gets its
   own ε prediction and the overlaps are averaged with linear cross-fade weights
   (MultiDiffusion-style, with tapered rather than flat weights so no seam survives); the
   solver itself steps the whole latent at once, so every sampler works unchanged;
2. decoded by the VAE in overlapping latent tiles, cross-faded in the mel domain;
3. vocoded in overlapping mel tiles, cross-faded into one preallocated output buffer.

Only one window's activations live at a time, so peak memory is that of a single window
plus the latent, the mel and the output buffers (the latent and mel are 1/80 and 1/40 of the
waveform's size). Clips that fit one window take the plain path, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from foleyldm.diffusion.masked import EpsFn, guided_eps, masked_denoise, remaining_timesteps
from foleyldm.diffusion.sampling import StepCallback
from foleyldm.diffusion.sampling import denoise as plain_denoise
from foleyldm.models.codec import LatentCodec

if TYPE_CHECKING:
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

#: The AudioLDM training clip length (REFERENCE.md §1): the default window.
DEFAULT_WINDOW_S = 10.24


@dataclass(frozen=True)
class Tiling:
    """Window sizes, in latent frames.

    Attributes:
        window: longest latent the UNet, the VAE and (×r mel frames) the vocoder see at once.
        overlap: overlap of neighbouring denoising windows.
        decode_overlap: overlap of VAE tiles (and, ×r, of vocoder tiles in mel frames); the
            decoders are convolutional, so a fraction of a second hides the tile edges.
    """

    window: int
    overlap: int
    decode_overlap: int

    def __post_init__(self) -> None:
        if self.window < 1 or not 0 < self.overlap < self.window:
            raise ValueError(f"need 0 < overlap < window, got {self.overlap} and {self.window}")
        if not 0 < self.decode_overlap < self.window:
            raise ValueError("need 0 < decode_overlap < window")


def tiling_for(pipe: TextToAudioPipeline) -> Tiling:
    """The tiling of a pipeline: window ``defaults["window_s"]`` (10.24 s), overlap 1/4 of
    it for denoising and 1/16 for decoding (2.56 s and 0.64 s at 10.24 s)."""
    seconds = float(pipe.defaults.get("window_s", DEFAULT_WINDOW_S))
    window = pipe.frames_for(seconds) // pipe.codec.compression
    return Tiling(window, max(1, window // 4), max(1, window // 16))


def needs_tiling(num_latent_frames: int, tiling: Tiling | None) -> bool:
    return tiling is not None and num_latent_frames > tiling.window


# ---- windows and blend weights ------------------------------------------------------------
def spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Windows [start, end) of ``size`` covering ``range(length)``, evenly spread, with
    neighbours overlapping by at least ``overlap``. One window when ``length <= size``."""
    if length <= size:
        return [(0, length)]
    n = math.ceil((length - overlap) / (size - overlap))
    starts = [round(i * (length - size) / (n - 1)) for i in range(n)]
    return [(s, s + size) for s in starts]


def blend_weights(windows: list[tuple[int, int]], i: int, device: torch.device) -> torch.Tensor:
    """Weights [end - start] of window ``i`` so that all windows' weights sum to 1 everywhere.

    Each window's raw weight ramps linearly over its overlap with each neighbour (never
    reaching 0) and is 1 elsewhere; dividing by the sum of the raw weights of every window
    covering a position normalises, computed only over window ``i``'s own range so no
    full-length buffer is needed.
    """

    def raw(j: int, lo: int, hi: int) -> torch.Tensor:
        s, e = windows[j]
        p = torch.arange(lo, hi, device=device, dtype=torch.float32)
        w = torch.ones_like(p)
        if j > 0:
            left = windows[j - 1][1] - s
            w = torch.minimum(w, (p - s + 0.5) / left)
        if j < len(windows) - 1:
            right = e - windows[j + 1][0]
            w = torch.minimum(w, (e - p - 0.5) / right)
        return w.clamp_min(0.0)

    s, e = windows[i]
    total = torch.zeros(e - s, device=device)
    for j, (sj, ej) in enumerate(windows):
        lo, hi = max(s, sj), min(e, ej)
        if lo < hi:
            total[lo - s : hi - s] += raw(j, lo, hi)
    return raw(i, s, e) / total


# ---- denoising ----------------------------------------------------------------------------
def windowed_eps(eps_fn: EpsFn, window: int, overlap: int) -> EpsFn:
    """``eps_fn`` applied to overlapping time windows of x and blended (see `blend_weights`).

    Windows are ``window`` latent frames long (a multiple of the UNet's downsampling when the
    latent is), so any total length works.
    """

    def eps(x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        length = x_in.shape[2]
        windows = spans(length, window, overlap)
        if len(windows) == 1:
            return eps_fn(x_in, t)
        out = torch.zeros_like(x_in)
        for i, (s, e) in enumerate(windows):
            w = blend_weights(windows, i, x_in.device).to(x_in.dtype).view(1, 1, -1, 1)
            out[:, :, s:e] += eps_fn(x_in[:, :, s:e].contiguous(), t) * w
        return out

    return eps


def model_eps(
    unet: UNet2DConditionModel,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    guidance_scale: float,
    num_latent_frames: int,
    tiling: Tiling | None,
) -> EpsFn:
    """The guided UNet, windowed when the latent is longer than ``tiling.window``."""
    eps = guided_eps(unet, cond, uncond, guidance_scale)
    if tiling is None or not needs_tiling(num_latent_frames, tiling):
        return eps
    return windowed_eps(eps, tiling.window, tiling.overlap)


def denoise(
    unet: UNet2DConditionModel,
    latents: torch.Tensor,
    scheduler: SchedulerMixin,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    guidance_scale: float,
    step_kwargs: dict[str, Any] | None = None,
    callback: StepCallback | None = None,
    tiling: Tiling | None = None,
) -> torch.Tensor:
    """Drop-in for `foleyldm.diffusion.sampling.denoise` that windows long latents.

    Same arguments (x_T already scaled by ``init_noise_sigma``) plus ``tiling``; a latent that
    fits one window goes through ``sampling.denoise`` unchanged.
    """
    length = latents.shape[2]
    if not needs_tiling(length, tiling):
        return plain_denoise(
            unet, latents, scheduler, cond, uncond, guidance_scale, step_kwargs, callback
        )
    eps = model_eps(unet, cond, uncond, guidance_scale, length, tiling)
    timesteps = remaining_timesteps(scheduler, 0)
    return masked_denoise(
        eps, latents, scheduler, timesteps, step_kwargs=step_kwargs, callback=callback
    )


# ---- encoding and decoding ----------------------------------------------------------------
def encode_mel(codec: LatentCodec, mel: torch.Tensor, tiling: Tiling | None) -> torch.Tensor:
    """VAE posterior mean of a log-mel [B, 1, T, M] (T a multiple of r), in overlapping tiles
    when long (the encoder's mid-block attention would otherwise grow with length squared)."""
    r = codec.compression
    length = mel.shape[2] // r
    if tiling is None or not needs_tiling(length, tiling):
        return codec.encode_mel(mel, sample_posterior=False)
    windows = spans(length, tiling.window, tiling.decode_overlap)
    out: torch.Tensor | None = None
    for i, (s, e) in enumerate(windows):
        z = codec.encode_mel(mel[:, :, s * r : e * r], sample_posterior=False).float()
        if out is None:
            out = z.new_zeros(z.shape[0], z.shape[1], length, z.shape[3])
        out[:, :, s:e] += z * blend_weights(windows, i, z.device).view(1, 1, -1, 1)
    assert out is not None
    return out


def decode_mel(codec: LatentCodec, latents: torch.Tensor, tiling: Tiling | None) -> torch.Tensor:
    """`LatentCodec.decode_mel` in overlapping time tiles: [B, C, T', F'] -> [B, 1, T'·r, M]."""
    length = latents.shape[2]
    if tiling is None or not needs_tiling(length, tiling):
        return codec.decode_mel(latents)
    r = codec.compression
    windows = spans(length, tiling.window, tiling.decode_overlap)
    frames = [(s * r, e * r) for s, e in windows]
    out: torch.Tensor | None = None
    for i, (s, e) in enumerate(windows):
        tile = codec.decode_mel(latents[:, :, s:e]).float()
        if out is None:
            out = tile.new_zeros(tile.shape[0], tile.shape[1], length * r, tile.shape[3])
        w = blend_weights(frames, i, tile.device).view(1, 1, -1, 1)
        out[:, :, s * r : e * r] += tile * w
    assert out is not None
    return out


def vocode(codec: LatentCodec, mel: torch.Tensor, tiling: Tiling | None) -> torch.Tensor:
    """`LatentCodec.vocode` in overlapping mel tiles: [B, 1, T, M] -> [B, T · hop]."""
    length = mel.shape[2]
    r = codec.compression
    if tiling is None or length <= tiling.window * r:
        return codec.vocode(mel)
    hop = codec.mel.hop_length
    windows = spans(length, tiling.window * r, tiling.decode_overlap * r)
    samples = [(s * hop, e * hop) for s, e in windows]
    out = torch.zeros(mel.shape[0], length * hop, device=codec.vae.device)
    for i, (s, e) in enumerate(windows):
        tile = codec.vocode(mel[:, :, s:e])
        out[:, s * hop : e * hop] += tile * blend_weights(samples, i, tile.device)
    return out


def decode(
    codec: LatentCodec, latents: torch.Tensor, tiling: Tiling | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent -> (mel [B, 1, T, M], waveform [B, T · hop]), tiled when long."""
    mel = decode_mel(codec, latents, tiling)
    return mel, vocode(codec, mel, tiling)
