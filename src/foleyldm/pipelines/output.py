"""Pipeline outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class AudioPipelineOutput:
    """What a generation returns.

    Attributes:
        waveforms: [B, 1, N] float32 in [-1, 1] (torch, or numpy for ``output_type="np"``).
        sample_rate: samples per second of ``waveforms``.
        prompts: the prompt of each output row (``""`` for embedding-only calls).
        scores: [B] CLAP audio-text cosine of each output, when computed (candidate
            re-ranking or ``score=True``).
        mels: [B, 1, T, M] log-mels the vocoder received, when requested.
        latents: [B, C, T', F'] final latents, when requested.
    """

    waveforms: torch.Tensor | np.ndarray
    sample_rate: int
    prompts: list[str] = field(default_factory=list)
    scores: torch.Tensor | None = None
    mels: torch.Tensor | None = None
    latents: torch.Tensor | None = None

    @property
    def audios(self) -> torch.Tensor | np.ndarray:
        """diffusers-style name: [B, N]."""
        return self.waveforms[:, 0]

    @property
    def duration_s(self) -> float:
        return float(self.waveforms.shape[-1]) / self.sample_rate
