"""CLAP text→audio retrieval: for each caption, rank every clip by cosine similarity.

Given N paired rows (clip i was made for caption i), the similarity matrix is
``S[i, j] = cos(text_i, audio_j)``. The rank of caption i's own clip is

    rank_i = 1 + #{j ≠ i : S[i, j] ≥ S[i, i]}

(ties count against the caption, so a collapsed CLAP that maps everything to one vector
gets rank N, not 1). Reported: recall at 1, 5 and 10 (share of captions whose clip ranks
within k), the mean reciprocal rank, and audio→text recall at 1 (columns of S ranked the
same way). Values depend on N (chance R@1 is 1/N): compare systems on the same prompt set.
The state is the two embedding tables (``cat``), so workers' rows simply concatenate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleyldm.evaluation.base import Metric, MetricError, as_rows

#: The recall cut-offs reported (text→audio).
RECALL_AT = (1, 5, 10)


def _unit(rows: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if (norms == 0).any():
        raise MetricError(f"retrieval: a {name} embedding is all zeros")
    return rows / norms


def retrieval_ranks(text_emb: Any, audio_emb: Any) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks of the true partner: (text→audio [N], audio→text [N]).

    Args:
        text_emb: caption embeddings [N, D]; row i belongs to clip i.
        audio_emb: clip embeddings [N, D].
    """
    t = _unit(as_rows(text_emb, "retrieval text embeddings"), "text")
    a = _unit(as_rows(audio_emb, "retrieval audio embeddings"), "audio")
    if t.shape != a.shape:
        raise MetricError(f"retrieval: text {t.shape} and audio {a.shape} embeddings differ")
    sim = t @ a.T  # [N captions, N clips]
    own = np.diag(sim)
    # ≥ counts the pair itself once, so the count is already 1 + the rivals that tie or beat
    t2a = (sim >= own[:, None]).sum(axis=1)
    a2t = (sim >= own[None, :]).sum(axis=0)
    return t2a, a2t


class CLAPRetrieval(Metric):
    """Text→audio R@1/R@5/R@10 and MRR, and audio→text R@1, over paired embeddings."""

    audio: list[np.ndarray]
    text: list[np.ndarray]

    def __init__(self) -> None:
        super().__init__()
        self.add_state("audio", [], "cat")
        self.add_state("text", [], "cat")

    def update(self, audio_emb: Any, text_emb: Any) -> None:
        """Add paired rows: clip embeddings [B, D] and their captions' embeddings [B, D]."""
        dim = self.audio[0].shape[1] if self.audio else None
        a = as_rows(audio_emb, "retrieval audio embeddings", dim)
        t = as_rows(text_emb, "retrieval text embeddings", a.shape[1])
        if a.shape[0] != t.shape[0]:
            raise MetricError(f"retrieval: {a.shape[0]} clips but {t.shape[0]} captions")
        self.audio.append(a)
        self.text.append(t)

    def compute(self) -> dict[str, float]:
        if not self.audio:
            raise MetricError("retrieval: no clips")
        a, t = np.concatenate(self.audio), np.concatenate(self.text)
        if a.shape[0] < 2:
            raise MetricError("retrieval needs at least 2 clips")
        t2a, a2t = retrieval_ranks(t, a)
        out = {f"t2a_r{k}": float((t2a <= k).mean()) for k in RECALL_AT}
        out["t2a_mrr"] = float((1.0 / t2a).mean())
        out["a2t_r1"] = float((a2t <= 1).mean())
        out["retrieval_n"] = float(a.shape[0])
        return out
