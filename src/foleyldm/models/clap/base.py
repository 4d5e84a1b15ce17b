"""The CLAP interface every conditioner backend implements.

The latent diffusion model is conditioned on one vector per clip. In training it is the CLAP
*audio* embedding of the clip, at inference the CLAP *text* embedding of the prompt: the two
are interchangeable because CLAP aligned the spaces. Pipelines only see this interface.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence

import torch
from torch import nn


class CLAP(nn.Module, abc.ABC):
    """An audio-text dual encoder with L2-normalised embeddings in one shared space."""

    #: Size D of the shared embedding space.
    embed_dim: int
    #: Name of the backend, stored in saved pipelines (``"laion"`` or ``"dual"``).
    backend: str

    @abc.abstractmethod
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> [B, D] unit-norm embeddings (float32, on the module's device)."""

    @abc.abstractmethod
    def encode_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms [B, N] (or [B, 1, N]) at ``sample_rate`` -> [B, D] unit-norm embeddings."""

    @property
    def can_encode_audio(self) -> bool:
        """False for text-only backends (e.g. diffusers' AudioLDM repos ship no audio tower)."""
        return True

    @abc.abstractmethod
    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write this encoder into ``directory`` (created if missing)."""

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def similarity(self, audio_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of paired rows: [B, D], [B, D] -> [B]."""
        a = nn.functional.normalize(audio_emb.float(), dim=-1)
        t = nn.functional.normalize(text_emb.float(), dim=-1)
        return (a * t).sum(-1)
