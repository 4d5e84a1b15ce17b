"""The masked / partial sampling helper, with every sampler.

Most tests use a model-free ε: either zeros, or the exact ε of Gaussian data z0 ~ N(0, s²)
(``gaussian_oracle``), for which the probability-flow ODE is linear: x_t maps to
x_0 = x_t · s / sqrt(ā_t s² + 1 - ā_t). A deterministic solver started part-way must land
there as well as the full schedule does, which only happens if the start level and every
later call's level line up with the timesteps the model is told.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from foleyldm.diffusion.masked import (
    KnownRegion,
    add_noise,
    guided_eps,
    masked_denoise,
    remaining_timesteps,
    sample,
    start_step_for_strength,
)
from foleyldm.diffusion.samplers import SAMPLERS, make_scheduler, step_kwargs
from foleyldm.diffusion.sampling import denoise
from foleyldm.models.presets import AUDIOLDM_SCHEDULER

DETERMINISTIC = ["ddim", "dpmpp-2m", "dpmpp-2m-karras", "unipc", "euler", "heun", "pndm"]
SHAPE = (1, 8, 64, 16)
DATA_STD = 3.0

_AC = make_scheduler("ddim", AUDIOLDM_SCHEDULER).alphas_cumprod.double().numpy()
_SIGMAS = np.sqrt((1 - _AC) / _AC)


def abar(t: torch.Tensor | float) -> float:
    """ā at a (possibly fractional, as Euler's) timestep, interpolated in sigma as diffusers
    does for the sigma solvers."""
    s = float(np.interp(float(t), np.arange(len(_SIGMAS)), _SIGMAS))
    return 1.0 / (1.0 + s * s)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def scheduler(name: str, steps: int):
    s = make_scheduler(name, AUDIOLDM_SCHEDULER)
    s.set_timesteps(steps)
    return s


def gaussian_oracle(calls: list) -> object:
    def eps(x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = abar(t)
        calls.append((x_in.clone(), float(t)))
        return (math.sqrt(1 - a) * x_in.double() / (a * DATA_STD**2 + 1 - a)).to(x_in.dtype)

    return eps


def recording_zero_eps(calls: list) -> object:
    def eps(x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append((x_in.clone(), float(t)))
        return torch.zeros_like(x_in)

    return eps


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_without_a_mask_it_is_denoise_bit_for_bit(tiny_pipe, name):
    unet = tiny_pipe.unet
    g = gen(0)
    cond = torch.nn.functional.normalize(torch.randn(1, 512, generator=g), dim=-1)
    uncond = torch.nn.functional.normalize(torch.randn(1, 512, generator=g), dim=-1)
    x = torch.randn(1, 8, 8, 16, generator=g)
    results = []
    for use_masked in (False, True):
        s = scheduler(name, 3)
        sg = gen(7)
        kw = step_kwargs(s, sg, 1.0)
        x_t = x * s.init_noise_sigma
        with torch.no_grad():
            if use_masked:
                eps = guided_eps(unet, cond, uncond, 2.5)
                out = masked_denoise(eps, x_t, s, remaining_timesteps(s, 0), step_kwargs=kw)
            else:
                out = denoise(unet, x_t, s, cond, uncond, 2.5, kw)
        results.append(out)
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("start", [0, 3])
def test_known_region_is_reimposed_at_the_level_of_every_call(name, start):
    """All-keep mask, z_known = 0: every model input is fresh noise, and its level must be
    the level of the timestep the model is told, at every call (Heun's and PLMS's second
    calls included)."""
    calls: list = []
    s = scheduler(name, 6)
    known = KnownRegion(torch.zeros(SHAPE), torch.ones(1, 1, 1, 1))
    g = gen(1)
    out = sample(
        recording_zero_eps(calls),
        s,
        torch.randn(SHAPE, generator=gen(2)),
        init=torch.zeros(SHAPE),
        start_step=start,
        known=known,
        generator=g,
        step_kwargs=step_kwargs(s, g, 1.0),
    )
    assert calls
    for x_in, t in calls:
        expected = math.sqrt(1 - abar(t))
        assert float(x_in.std()) == pytest.approx(expected, rel=0.05), (t, expected)
    assert torch.equal(out, torch.zeros(SHAPE))  # pasted after the last step


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_partial_start_noises_to_the_level_of_that_step(name):
    steps, start = 8, 3
    full = scheduler(name, steps)
    order = int(full.order)
    # the distinct noise levels in solver order; level k is where a fresh start at k begins
    levels = list(dict.fromkeys(float(t) for t in full.timesteps))
    calls: list = []
    s = scheduler(name, steps)
    noise = torch.randn(SHAPE, generator=gen(3))
    sample(recording_zero_eps(calls), s, noise, init=torch.zeros(SHAPE), start_step=start)
    x_in, t = calls[0]
    assert t == levels[start]
    torch.testing.assert_close(x_in, noise * math.sqrt(1 - abar(t)), rtol=2e-2, atol=2e-3)
    # solver steps after the start, each visited once (PLMS re-opens with its pair)
    visited = list(dict.fromkeys(t for _, t in calls))
    assert visited == levels[start:]
    if order == 1 and name != "pndm":
        assert len(calls) == steps - start


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_partial_start_lands_on_the_probability_flow_solution(name):
    errors = {}
    for start in (0, 10, 30):
        calls: list = []
        s = scheduler(name, 50)
        noise = torch.randn(SHAPE, generator=gen(4))
        z0 = torch.randn(SHAPE, generator=gen(5)) * DATA_STD
        out = sample(gaussian_oracle(calls), s, noise, init=z0, start_step=start)
        x_in, t = calls[0]
        a = abar(t)
        expected = x_in.double() * DATA_STD / math.sqrt(a * DATA_STD**2 + 1 - a)
        errors[start] = float((out.double() - expected).norm() / expected.norm())
    # Starting part-way adds no error over the full schedule (a misaligned PLMS start, or a
    # wrong start level, does: 0.6-4 % against 0.03 %).
    for start in (10, 30):
        assert errors[start] <= 1.5 * errors[0] + 1e-3, errors


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_known_region_is_exact_after_the_last_step(name):
    g = gen(6)
    z_known = torch.randn(SHAPE, generator=g)
    mask = torch.zeros(1, 1, SHAPE[2], 1)
    mask[:, :, :20] = 1.0
    s = scheduler(name, 4)
    kw = step_kwargs(s, g, 1.0)
    calls: list = []
    known = KnownRegion(z_known, mask)
    out = sample(
        gaussian_oracle(calls),
        s,
        torch.randn(SHAPE, generator=g),
        known=known,
        generator=g,
        step_kwargs=kw,
    )
    assert torch.isfinite(out).all()
    assert torch.equal(out[:, :, :20], z_known[:, :, :20])
    assert not torch.equal(out[:, :, 20:], z_known[:, :, 20:])


def test_without_the_final_paste_the_known_region_is_only_close():
    g = gen(8)
    z_known = torch.randn(SHAPE, generator=g) * DATA_STD
    mask = torch.ones(1, 1, 1, SHAPE[3])
    s = scheduler("ddim", 20)
    known = KnownRegion(z_known, mask, paste_final=False)
    out = sample(gaussian_oracle([]), s, torch.randn(SHAPE, generator=g), known=known, generator=g)
    assert not torch.equal(out, z_known)
    rel = float((out - z_known).norm() / z_known.norm())
    assert rel < 0.1, rel


def test_strength_maps_to_the_steps_run():
    assert start_step_for_strength(10, 1.0) == 0
    assert start_step_for_strength(10, 0.0) == 10
    assert start_step_for_strength(10, 0.6) == 4
    assert start_step_for_strength(100, 0.29) == 71  # 0.29 * 100 = 28.999...
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="strength"):
            start_step_for_strength(10, bad)


@pytest.mark.parametrize("name", ["ddim", "heun", "pndm"])
def test_strength_zero_returns_the_clean_latent(name):
    z0 = torch.randn(SHAPE, generator=gen(9))
    s = scheduler(name, 5)
    calls: list = []
    out = sample(recording_zero_eps(calls), s, torch.randn(SHAPE), init=z0, start_step=5)
    assert torch.equal(out, z0) and not calls


def test_add_noise_matches_the_reference_formula():
    s = scheduler("ddim", 10)
    z0, n = torch.randn(SHAPE, generator=gen(10)), torch.randn(SHAPE, generator=gen(11))
    t = s.timesteps[3]
    a = float(s.alphas_cumprod[t])
    torch.testing.assert_close(add_noise(s, z0, n, t), math.sqrt(a) * z0 + math.sqrt(1 - a) * n)


def test_bad_masks_are_rejected():
    z = torch.zeros(SHAPE)
    with pytest.raises(ValueError, match="dims"):
        KnownRegion(z, torch.ones(SHAPE[2]))
    with pytest.raises(ValueError, match="broadcast"):
        KnownRegion(z, torch.ones(1, 1, 3, 1))
    with pytest.raises(ValueError, match="start_step"):
        remaining_timesteps(scheduler("ddim", 4), 5)
    with pytest.raises(ValueError, match="init"):
        sample(recording_zero_eps([]), scheduler("ddim", 4), z, start_step=2)
