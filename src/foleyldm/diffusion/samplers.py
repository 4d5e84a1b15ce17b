"""Samplers by name, built on diffusers' schedulers (looked up in a dict, STYLE.md lesson 7).

Every sampler shares the model's training noise schedule (``base_config``: betas, prediction
type, timestep offset); the name only chooses the solver.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

#: name -> (scheduler class, config overrides, one-line description)
SAMPLERS: dict[str, tuple[type[SchedulerMixin], dict[str, Any], str]] = {
    "ddim": (DDIMScheduler, {}, "DDIM (eta 0 deterministic, eta 1 as the AudioLDM reference)"),
    "dpmpp-2m": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2},
        "DPM-Solver++ 2M (good in 15-25 steps)",
    ),
    "dpmpp-2m-karras": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        "DPM-Solver++ 2M with Karras sigmas",
    ),
    "dpmpp-2m-sde": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2},
        "stochastic DPM-Solver++ 2M",
    ),
    "unipc": (UniPCMultistepScheduler, {}, "UniPC multistep (good in 10-20 steps)"),
    "euler": (EulerDiscreteScheduler, {}, "Euler"),
    "euler-a": (EulerAncestralDiscreteScheduler, {}, "Euler ancestral (stochastic)"),
    "heun": (HeunDiscreteScheduler, {}, "Heun (2 model calls per step)"),
    "pndm": (PNDMScheduler, {"skip_prk_steps": True}, "PNDM / PLMS"),
    # diffusers' DDPM clips x0 to [-1, 1] by default; audio latents are not bounded like that
    "ddpm": (DDPMScheduler, {"clip_sample": False}, "ancestral DDPM"),
}

# Keys a scheduler config may carry that are specific to one solver; they are dropped before
# building another solver from the same noise schedule.
_DDIM_ONLY = ("clip_sample", "set_alpha_to_one", "clip_sample_range", "thresholding")


class UnknownSamplerError(ValueError):
    pass


def sampler_names() -> list[str]:
    return list(SAMPLERS)


def make_scheduler(name: str, base_config: dict[str, Any]) -> SchedulerMixin:
    """A fresh scheduler ``name`` on the noise schedule ``base_config``.

    Raises:
        UnknownSamplerError: for a name not in :data:`SAMPLERS`.
    """
    try:
        cls, overrides, _ = SAMPLERS[name]
    except KeyError:
        raise UnknownSamplerError(
            f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)}"
        ) from None
    cfg = {k: v for k, v in base_config.items() if not k.startswith("_")}
    if cls is not DDIMScheduler:
        for k in _DDIM_ONLY:
            cfg.pop(k, None)
    cfg.update(overrides)
    return cls.from_config(cfg)


def step_kwargs(
    scheduler: SchedulerMixin,
    generator: torch.Generator | list[torch.Generator] | None,
    eta: float,
) -> dict[str, Any]:
    """Extra keyword arguments the scheduler's ``step`` accepts (eta, generator)."""
    params = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict[str, Any] = {}
    if "eta" in params:
        kwargs["eta"] = eta
    if "generator" in params:
        kwargs["generator"] = generator
    return kwargs
