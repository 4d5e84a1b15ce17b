"""Random weights that make every layer matter, for untrained test models.

Library initialisations zero some output layers and keep HiFi-GAN's weights at N(0, 0.01), so
an untrained pipeline returns near-silence and a test cannot tell one seed from another. The
"spread" initialisation is the one the original-code reference data used (REFERENCE.md §8):
norm weights 1 + 0.1·N, norm biases 0.1·N, other biases 0.05·N, weights N / sqrt(fan_in)
(for transposed convolutions fan_in = in_channels · kernel / stride).
"""

from __future__ import annotations

import math

import torch
from torch import nn

_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d)


@torch.no_grad()
def spread_init_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every parameter of ``module`` in place, in ``named_modules`` order."""
    for sub in module.modules():
        own = dict(sub.named_parameters(recurse=False))
        for name, p in own.items():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            if isinstance(sub, _NORMS):
                value = 1.0 + 0.1 * noise if name == "weight" else 0.1 * noise
            elif name == "bias" or p.dim() < 2:
                value = 0.05 * noise
            else:
                value = noise / math.sqrt(_fan_in(sub, p))
            p.copy_(value.to(p.dtype))
    return module


def _fan_in(module: nn.Module, weight: torch.Tensor) -> float:
    if isinstance(module, nn.ConvTranspose1d | nn.ConvTranspose2d):
        kernel = math.prod(module.kernel_size)
        stride = math.prod(module.stride)
        return module.in_channels * kernel / stride
    return float(weight[0].numel())
