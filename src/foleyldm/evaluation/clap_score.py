"""CLAP score: mean cosine similarity of each clip's CLAP audio embedding with its prompt's
CLAP text embedding (as in AudioLDM 2 / Make-An-Audio 2 tables: the raw cosine, not
clipped at 0 and not scaled by 100).

Any `foleyldm.models.clap.CLAP` backend works (``encode_audio``/``encode_text`` return unit
vectors in one shared space). The state is a sum and a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_rows

if TYPE_CHECKING:
    from foleyldm.models.clap.base import CLAP


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of paired rows [N, D], [N, D] -> [N] (float64)."""
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    if (na == 0).any() or (nb == 0).any():
        raise MetricError("CLAP score: an embedding is all zeros")
    return np.asarray((a * b).sum(1) / (na * nb))


class CLAPScore(Metric):
    """Mean audio–text cosine similarity of paired clips and prompts."""

    cos_sum: float
    count: float

    def __init__(self, clap: CLAP | None = None) -> None:
        super().__init__()
        self.clap = clap
        self.add_state("cos_sum", np.float64(0), "sum")
        self.add_state("count", np.float64(0), "sum")

    def update(self, audio_emb: Any, text_emb: Any) -> None:
        """Add paired CLAP embeddings: audio [N, D] and text [N, D]."""
        a, t = (
            as_rows(audio_emb, "CLAP audio embeddings"),
            as_rows(text_emb, "CLAP text embeddings"),
        )
        if a.shape != t.shape:
            raise MetricError(f"CLAP score: audio {a.shape} and text {t.shape} embeddings differ")
        self.cos_sum = self.cos_sum + cosine_rows(a, t).sum()
        self.count = self.count + a.shape[0]

    def update_audio(self, wav: Any, sample_rate: int, texts: Sequence[str]) -> None:
        """Embed waveforms [B, N] and their prompts with ``self.clap``, then `update`."""
        import torch

        if self.clap is None:
            raise MetricError("CLAP score: no CLAP model given")
        if not self.clap.can_encode_audio:
            raise MetricError("CLAP score: this CLAP has no audio tower")
        wav = torch.as_tensor(wav, dtype=torch.float32)
        if wav.ndim == 1:
            wav = wav[None]
        if wav.shape[0] != len(texts):
            raise MetricError(f"CLAP score: {wav.shape[0]} clips but {len(texts)} prompts")
        with torch.inference_mode():
            a = self.clap.encode_audio(wav.to(self.clap.device), sample_rate)
            t = self.clap.encode_text(list(texts))
        self.update(a, t)

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise MetricError("CLAP score: no clips")
        return {"clap": float(self.cos_sum / self.count)}
