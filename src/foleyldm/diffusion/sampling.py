"""The denoising loop with classifier-free guidance, as a plain function.

``denoise`` takes the model, the initial latents and the scheduler, and runs the solver. It is
shared by text-to-audio and (later) by the editing pipelines, which add a known-region hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin

#: ``callback(step_index, num_steps, latents)`` after every solver step.
StepCallback = Callable[[int, int, torch.Tensor], None]


def guided_noise(
    unet: UNet2DConditionModel,
    x: torch.Tensor,
    t: torch.Tensor | int,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    guidance_scale: float,
) -> torch.Tensor:
    """Model prediction with classifier-free guidance.

    One UNet call for both branches (batch [uncond; cond], unconditional first, as the
    reference and diffusers do): e = e_u + s * (e_c - e_u).

    Args:
        x: model input [B, C, T, F] (already scaled by the scheduler).
        cond, uncond: FiLM conditions [B, D]; ``uncond`` None disables guidance.
    """
    if uncond is None or guidance_scale == 1.0:
        return unet(x, t, encoder_hidden_states=None, class_labels=cond).sample
    out = unet(
        torch.cat([x, x]), t, encoder_hidden_states=None, class_labels=torch.cat([uncond, cond])
    ).sample
    e_u, e_c = out.chunk(2)
    return e_u + guidance_scale * (e_c - e_u)


def denoise(
    unet: UNet2DConditionModel,
    latents: torch.Tensor,
    scheduler: SchedulerMixin,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    guidance_scale: float,
    step_kwargs: dict[str, Any] | None = None,
    callback: StepCallback | None = None,
    start_index: int = 0,
) -> torch.Tensor:
    """Run the scheduler's timesteps from ``start_index`` on.

    Args:
        latents: x_T (already multiplied by ``init_noise_sigma``) [B, C, T, F].
        scheduler: a scheduler whose ``set_timesteps`` has been called.
        cond, uncond: [B, D] conditions (uncond None or guidance 1 -> no guidance).
        start_index: skip this many solver steps (SDEdit-style partial denoising).

    Returns:
        x_0 estimate [B, C, T, F].
    """
    kwargs = step_kwargs or {}
    timesteps = scheduler.timesteps[start_index * scheduler.order :]
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        x_in = scheduler.scale_model_input(latents, t)
        noise = guided_noise(unet, x_in, t, cond, uncond, guidance_scale)
        latents = scheduler.step(noise, t, latents, **kwargs).prev_sample
        if callback is not None:
            callback(i + 1, total, latents)
    return latents
