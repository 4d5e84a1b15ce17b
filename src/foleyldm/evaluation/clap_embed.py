"""CLAP embeddings of files and captions for evaluation, cached like backbone features.

`CLAPEmbedder` wraps one CLAP. Audio embeddings are stored per file under
``<cache>/clap-audio/<fingerprint[:16]>/`` keyed by the sha256 of the file's bytes; caption
embeddings under ``<cache>/clap-text/<fingerprint[:16]>/`` keyed by the text. The fingerprint
hashes the CLAP's weights, class and config, so a retrained or swapped CLAP never reads
another's entries (`foleyldm.data.cache.EncoderCache` also checks it in each file's header).
Without a cache folder, caption embeddings are still kept in memory for the run.

`clap_metrics` turns the embeddings of named clips and their prompts into the CLAP score
and the text→audio retrieval figures.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foleyldm.errors import FoleyError

if TYPE_CHECKING:
    from foleyldm.data.cache import EncoderCache
    from foleyldm.models.clap.base import CLAP

#: Bump when the way embeddings are computed from a file or a text changes.
CACHE_VERSION = "1"
TEXT_BATCH = 64


def clap_fingerprint(clap: CLAP) -> str:
    """SHA-256 over the CLAP's weights, class, config and `CACHE_VERSION`."""
    from foleyldm.data.cache import fingerprint_module

    h = hashlib.sha256(f"{CACHE_VERSION}|{type(clap).__name__}|".encode())
    h.update(repr(getattr(clap, "config", None)).encode())
    h.update(fingerprint_module(clap).encode())
    return h.hexdigest()


def load_scoring_clap(model: str | os.PathLike[str]) -> CLAP:
    """The CLAP of a model folder (read alone when it has one), release name or preset."""
    from foleyldm.models.clap import has_clap, load_clap

    if Path(model).is_dir() and has_clap(model):
        return load_clap(model)
    from foleyldm.pipelines.loading import load_pipeline

    clap = load_pipeline(model, device="cpu").clap
    if clap is None:
        raise FoleyError(f"model {model} has no CLAP")
    return clap


class CLAPEmbedder:
    """CLAP audio embeddings of files and text embeddings of captions, cached on disk.

    Attributes:
        counts: ``{"audio"|"text": {"computed": n, "cached": m}}`` since construction.
    """

    def __init__(self, clap: CLAP, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.clap = clap
        self.cache_dir = cache_dir
        self._caches: dict[str, EncoderCache] = {}
        self._fingerprint: str | None = None
        self._memory: dict[str, np.ndarray] = {}
        self.counts = {kind: {"computed": 0, "cached": 0} for kind in ("audio", "text")}

    def _cache(self, kind: str) -> EncoderCache | None:
        if self.cache_dir is None:
            return None
        if kind not in self._caches:
            from foleyldm.data.cache import EncoderCache

            if self._fingerprint is None:
                self._fingerprint = clap_fingerprint(self.clap)
            self._caches[kind] = EncoderCache(self.cache_dir, f"clap-{kind}", self._fingerprint)
        return self._caches[kind]

    def audio(self, files: Mapping[str, Path]) -> dict[str, np.ndarray]:
        """``{name: unit embedding [D]}`` of each audio file (any rate; read from the cache
        when a file with the same bytes was embedded by the same CLAP before)."""
        import torch

        from foleyldm.audio.io import load_audio
        from foleyldm.evaluation.cache import content_hash

        if not self.clap.can_encode_audio:
            raise FoleyError("this CLAP has no audio tower: it cannot embed clips")
        cache = self._cache("audio")
        out: dict[str, np.ndarray] = {}
        for name, path in files.items():
            data = Path(path).read_bytes()
            sha = content_hash(data)
            found = cache.get(sha) if cache is not None else None
            if found is not None:
                self.counts["audio"]["cached"] += 1
                out[name] = found["embedding"].numpy()
                continue
            wav, sr = load_audio(data, sample_rate=None)
            with torch.inference_mode():
                emb = self.clap.encode_audio(wav[None].to(self.clap.device), sr)[0].float().cpu()
            if cache is not None:
                cache.put(sha, {"embedding": emb})
            self.counts["audio"]["computed"] += 1
            out[name] = emb.numpy()
        return out

    def text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit caption embeddings [N, D] (each distinct text embedded once)."""
        from foleyldm.data.cache import text_key

        cache = self._cache("text")
        todo: list[str] = []
        for text in dict.fromkeys(texts):
            if text in self._memory:
                continue
            found = cache.get(text_key(text)) if cache is not None else None
            if found is not None:
                self._memory[text] = found["embedding"].numpy()
                self.counts["text"]["cached"] += 1
            else:
                todo.append(text)
        for i in range(0, len(todo), TEXT_BATCH):
            self._embed_texts(todo[i : i + TEXT_BATCH], cache)
        if not texts:
            return np.zeros((0, self.clap.embed_dim), np.float32)
        return np.stack([self._memory[t] for t in texts])

    def _embed_texts(self, batch: list[str], cache: EncoderCache | None) -> None:
        import torch

        from foleyldm.data.cache import text_key

        with torch.inference_mode():
            emb = self.clap.encode_text(batch).float().cpu()
        for text, row in zip(batch, emb, strict=True):
            if cache is not None:
                cache.put(text_key(text), {"embedding": row.clone()})
            self._memory[text] = row.numpy()
            self.counts["text"]["computed"] += 1


def clap_metrics(
    files: Mapping[str, Path],
    prompts: Mapping[str, str],
    embedder: CLAPEmbedder,
    wanted: Sequence[str],
    notes: list[str],
) -> dict[str, float]:
    """CLAP score (``"clap"`` in ``wanted``) and retrieval (``"retrieval"``) of named clips.

    Clips without a prompt are left out (with a note); retrieval needs at least 2 clips.
    """
    from foleyldm.evaluation.clap_score import CLAPScore
    from foleyldm.evaluation.retrieval import CLAPRetrieval

    names = [n for n in files if n in prompts]
    if len(names) < len(files):
        notes.append(
            f"CLAP: {len(files) - len(names)} generated files have no prompt and were left out"
        )
    if not names:
        raise FoleyError("CLAP metrics: no clip has a prompt")
    audio = embedder.audio({n: files[n] for n in names})
    a = np.stack([audio[n] for n in names])
    t = embedder.text([prompts[n] for n in names])
    out: dict[str, float] = {}
    if "clap" in wanted:
        score = CLAPScore()
        score.update(a, t)
        out.update(score.compute())
    if "retrieval" in wanted:
        if len(names) < 2:
            notes.append("retrieval skipped: it needs at least 2 clips with prompts")
        else:
            retrieval = CLAPRetrieval()
            retrieval.update(a, t)
            out.update(retrieval.compute())
    return out
