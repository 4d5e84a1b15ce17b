"""Partial and masked sampling: the one helper behind every zero-shot edit.

Editing is sampler input, not a new model (STYLE.md lesson 3, REFERENCE.md §4):

- **start part-way** (SDEdit, style transfer): noise a known latent z0 to the level of a later
  solver step with the scheduler's own ``add_noise`` and run only the remaining steps;
- **re-impose a known region** (inpainting, super-resolution): before every model call,
  replace the region where ``mask == 1`` by a fresh ``add_noise(z_known, ε, t)`` at the noise
  level of the *current* x, so the model always sees a consistent noisy sample;
- optionally **paste** the clean known region after the last step.

All of it works with every sampler of `foleyldm.diffusion.samplers.SAMPLERS`. Two solver
families need care, handled in `remaining_timesteps`:

- sigma-based solvers (Euler, Heun, DPM-Solver, UniPC) keep a step index; their
  ``add_noise`` reads the level from it once ``set_begin_index`` is called, so the level is
  that of the current x whatever timestep is passed (Heun's repeated timesteps included);
- PLMS (``pndm``) opens with a two-call step (diffusers repeats its second timestep); a
  schedule started part-way needs that opening pair again, so its timesteps are rebuilt.

The model is any ``eps_fn(x_in, t) -> ε`` (`guided_eps` wraps `guided_noise`; the long-form
path wraps it in windows), so edits of long clips reuse the windowed model unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import PNDMScheduler, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from foleyldm.diffusion.sampling import StepCallback, guided_noise

#: ``eps_fn(x_in, t)``: the model's ε prediction for the scaled input x_in [B, C, T, F].
EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Generator = torch.Generator | list[torch.Generator] | None


@dataclass(frozen=True)
class KnownRegion:
    """A latent region to keep.

    Attributes:
        latents: the clean known latent z_known [B, C, T, F].
        mask: 1 = keep, 0 = generate; [B, 1, T, F] or anything broadcastable to ``latents``
            (e.g. [1, 1, T, 1] for time ranges, [1, 1, 1, F] for frequency bands). Values
            between 0 and 1 blend.
        paste_final: replace the known region by z_known after the last step, so the result
            holds the known latent exactly (the reference does not; its known region is only
            as close as the solver's last step leaves it).
    """

    latents: torch.Tensor
    mask: torch.Tensor
    paste_final: bool = True

    def __post_init__(self) -> None:
        if self.mask.dim() != self.latents.dim():
            raise ValueError(
                f"mask must have {self.latents.dim()} dims like the latents, "
                f"got {tuple(self.mask.shape)}"
            )
        try:
            torch.broadcast_shapes(self.mask.shape, self.latents.shape)
        except RuntimeError:
            raise ValueError(
                f"mask {tuple(self.mask.shape)} does not broadcast to the latents "
                f"{tuple(self.latents.shape)}"
            ) from None

    def impose(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x with the kept region taken from z: ``mask * z + (1 - mask) * x``."""
        m = self.mask.to(x.device, x.dtype)
        return torch.lerp(x, z.to(x.dtype), m)


def guided_eps(
    unet: UNet2DConditionModel,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    guidance_scale: float,
) -> EpsFn:
    """The classifier-free-guided UNet as an ``eps_fn`` (see `guided_noise`)."""

    def eps(x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return guided_noise(unet, x_in, t, cond, uncond, guidance_scale)

    return eps


def start_step_for_strength(num_inference_steps: int, strength: float) -> int:
    """Solver steps to skip for an edit ``strength`` ∈ [0, 1] (REFERENCE.md §4).

    ``int(strength · S)`` steps are run, so strength 1 runs all S (pure generation) and
    strength 0 none (the input comes back). A tiny epsilon keeps 0.29 · 100 from flooring
    to 28.
    """
    if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    run = min(num_inference_steps, math.floor(strength * num_inference_steps + 1e-6))
    return num_inference_steps - run


def remaining_timesteps(scheduler: SchedulerMixin, start_step: int) -> torch.Tensor:
    """Prepare ``scheduler`` to start at solver step ``start_step``; return the calls to make.

    Call right after ``scheduler.set_timesteps(S)``. ``start_step`` counts solver steps
    (noise levels), not model calls: Heun makes two calls per step and PLMS three for its
    first. Step ``start_step == S`` leaves nothing to run (an empty tensor).
    """
    timesteps = scheduler.timesteps
    steps = int(scheduler.num_inference_steps)
    if not 0 <= start_step <= steps:
        raise ValueError(f"start_step must be in [0, {steps}], got {start_step}")
    if isinstance(scheduler, PNDMScheduler) and start_step > 0:
        # diffusers' PLMS grid is [t0, t1, t1, t2, ...]: level k >= 1 starts at index k + 1.
        # A fresh PLMS run opens with a predictor/corrector pair at the same timestep, so the
        # remaining levels [tk, tk+1, ...] become [tk, tk+1, tk+1, tk+2, ...].
        levels = timesteps[start_step + 1 :]
        rebuilt = torch.cat([levels[:2], levels[1:]]) if len(levels) > 1 else levels
        scheduler.timesteps = rebuilt
        return rebuilt
    index = start_step * int(scheduler.order)
    if hasattr(scheduler, "set_begin_index"):
        # From now on the scheduler's add_noise reads its level from its own step index.
        scheduler.set_begin_index(index)
    return timesteps[index:]


def add_noise(
    scheduler: SchedulerMixin, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """``scheduler.add_noise`` at the single timestep ``t`` for a whole batch."""
    ts = torch.as_tensor(t, device=clean.device).reshape(1)
    return scheduler.add_noise(clean, noise.to(clean.dtype), ts)


def masked_denoise(
    eps_fn: EpsFn,
    latents: torch.Tensor,
    scheduler: SchedulerMixin,
    timesteps: torch.Tensor,
    known: KnownRegion | None = None,
    generator: Generator = None,
    step_kwargs: dict[str, Any] | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """The solver loop, with an optional known region re-imposed before every model call.

    Without ``known`` this is `foleyldm.diffusion.sampling.denoise` (bit for bit, for every
    sampler), with any ``eps_fn``.

    Args:
        eps_fn: the model (e.g. `guided_eps`).
        latents: x at the level of ``timesteps[0]`` [B, C, T, F].
        scheduler: prepared by ``set_timesteps`` then `remaining_timesteps`.
        timesteps: what `remaining_timesteps` returned.
        known: region to keep; its fresh noise is drawn from ``generator`` at every call.
        step_kwargs: extra ``scheduler.step`` arguments (eta, generator).
        callback: ``callback(i, n, latents)`` after each of the n model calls.

    Returns:
        x_0 [B, C, T, F].
    """
    kwargs = step_kwargs or {}
    total = len(timesteps)
    x = latents
    for i, t in enumerate(timesteps):
        if known is not None:
            # The level of the x about to be fed to the model: DDIM/DDPM/PLMS read it from t,
            # the sigma solvers from their step index (which already points at this call).
            noise = randn_tensor(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = known.impose(x, add_noise(scheduler, known.latents, noise, t))
        x_in = scheduler.scale_model_input(x, t)
        eps = eps_fn(x_in, t)
        x = scheduler.step(eps, t, x, **kwargs).prev_sample
        if callback is not None:
            callback(i + 1, total, x)
    if known is not None and known.paste_final:
        x = known.impose(x, known.latents)
    return x


def sample(
    eps_fn: EpsFn,
    scheduler: SchedulerMixin,
    noise: torch.Tensor,
    init: torch.Tensor | None = None,
    start_step: int = 0,
    known: KnownRegion | None = None,
    generator: Generator = None,
    step_kwargs: dict[str, Any] | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Partial and/or masked sampling from step ``start_step`` of a set schedule.

    Args:
        eps_fn: the model.
        scheduler: a scheduler whose ``set_timesteps`` has been called (nothing else).
        noise: unit Gaussian ε [B, C, T, F]. At ``start_step == 0`` the start is
            ``ε · init_noise_sigma`` (exactly what plain generation starts from), otherwise
            ``add_noise(init, ε, t_start)``.
        init: the clean latent z0 to start from (needed when ``start_step > 0``).
        start_step: solver steps to skip (`start_step_for_strength`).
        known, generator, step_kwargs, callback: as in `masked_denoise`.

    Returns:
        x_0 [B, C, T, F]; ``init`` itself (``known`` pasted if asked) when no step remains.
    """
    timesteps = remaining_timesteps(scheduler, start_step)
    if start_step == 0:
        x = noise * scheduler.init_noise_sigma
    else:
        if init is None:
            raise ValueError("starting part-way (start_step > 0) needs the clean latent init")
        if len(timesteps) == 0:  # strength 0: nothing to run, the input comes back
            if known is not None and known.paste_final:
                return known.impose(init, known.latents)
            return init
        x = add_noise(scheduler, init, noise, timesteps[0])
    return masked_denoise(eps_fn, x, scheduler, timesteps, known, generator, step_kwargs, callback)
