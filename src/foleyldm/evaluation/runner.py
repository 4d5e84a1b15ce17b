"""Evaluate a folder of generated audio against a folder of references (``foleyldm eval``).

Files are matched by their path relative to the folder without the suffix (``dog/1.wav``
pairs with ``dog/1.flac``). The folders are *paired* when more than 99 % of the generated
names have a reference (REFERENCE.md §6); KL, LSD, PSNR and SSIM need pairs, FD/FAD, IS and
KID do not. Backbone features come from `FeatureCache` and CLAP embeddings (CLAP score,
text→audio retrieval) from `CLAPEmbedder`'s cache, so a second run reads them back and only
new or edited files reach a model.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foleyldm.errors import FoleyError
from foleyldm.evaluation.backbones.base import Backbone, Features
from foleyldm.evaluation.cache import FeatureCache, content_hash
from foleyldm.evaluation.clap_embed import CLAPEmbedder, clap_metrics
from foleyldm.evaluation.fd import FDMethod
from foleyldm.evaluation.probes import PROBE_LABELS

if TYPE_CHECKING:
    from foleyldm.models.clap.base import CLAP

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
PAIRED_FRACTION = 0.99
#: Metrics computed on backbone features, on raw audio pairs, and with CLAP.
FEATURE_METRICS = ("fd", "fad", "is", "kl", "kid")
PAIRED_AUDIO_METRICS = ("lsd", "psnr", "ssim")
CLAP_METRICS = ("clap", "retrieval")
ALL_METRICS = (*FEATURE_METRICS, *CLAP_METRICS, *PAIRED_AUDIO_METRICS)

LABELS = {
    "fd": "FD ↓",
    "fad": "FAD ↓",
    "is": "IS ↑",
    "is_std": "IS std",
    "kl_softmax": "KL softmax ↓",
    "kl_sigmoid": "KL sigmoid ↓",
    "kid": "KID ↓",
    "kid_std": "KID std",
    "clap": "CLAP score ↑",
    "t2a_r1": "text→audio R@1 ↑",
    "t2a_r5": "text→audio R@5 ↑",
    "t2a_r10": "text→audio R@10 ↑",
    "t2a_mrr": "text→audio MRR ↑",
    "a2t_r1": "audio→text R@1 ↑",
    "retrieval_n": "retrieval candidates",
    "lsd": "LSD ↓",
    "psnr": "mel PSNR (dB) ↑",
    "psnr_skipped": "PSNR identical pairs skipped",
    "ssim": "mel SSIM ↑",
    **PROBE_LABELS,
    "wall_s": "wall time, this run (s)",
    "clips_generated": "clips generated",
    "clips_reused": "clips reused",
    "seconds_per_clip": "wall time per clip (s)",
    "rtf": "real-time factor (wall / audio)",
    "total_wall_s": "wall time, all clips (s)",
}
#: Values that are counts (printed without decimals).
COUNT_KEYS = {"clips_generated", "clips_reused", "psnr_skipped"}


class EvalError(FoleyError, ValueError):
    """Folders or options that cannot be evaluated (empty folder, unknown metric, ...)."""


def list_audio(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """``{relative path without suffix: file}`` of the audio files under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise EvalError(f"{root}: not a folder")
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            key = path.relative_to(root).with_suffix("").as_posix()
            if key in files:
                raise EvalError(
                    f"{root}: two audio files are named {key} ({files[key].name}, {path.name})"
                )
            files[key] = path
    if not files:
        raise EvalError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files


def is_paired(generated: Mapping[str, Any], reference: Mapping[str, Any]) -> bool:
    """True when more than 99 % of the generated names have a reference of the same name."""
    shared = len(set(generated) & set(reference))
    return shared > PAIRED_FRACTION * len(generated)


def read_prompts(path: str | os.PathLike[str]) -> dict[str, str]:
    """A prompts CSV -> ``{name without suffix: caption}``.

    Columns: a name (``file``, ``file_name``, ``filename``, ``name``, ``path``, ``wav`` or
    ``audiocap_id``) and a text (``caption``, ``prompt`` or ``text``); AudioCaps CSVs work.
    """
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise EvalError(f"cannot read prompts {path}: {err.strerror}") from None
    header = set(rows[0]) if rows else set()
    name_col = next(
        (
            c
            for c in ("file", "file_name", "filename", "name", "path", "wav", "audiocap_id")
            if c in header
        ),
        None,
    )
    text_col = next((c for c in ("caption", "prompt", "text") if c in header), None)
    if name_col is None or text_col is None:
        raise EvalError(f"{path}: needs a file-name column and a caption/prompt/text column")
    return {_strip_audio_suffix(r[name_col]): r[text_col] for r in rows}


def _strip_audio_suffix(name: str) -> str:
    path = Path(name.strip())
    return (path.with_suffix("") if path.suffix.lower() in AUDIO_SUFFIXES else path).as_posix()


def extract_features(
    backbone: Backbone, files: Mapping[str, Path], cache: FeatureCache
) -> dict[str, Features]:
    """Features of each file, from the cache when its content was seen before."""
    from foleyldm.audio.io import load_audio

    out: dict[str, Features] = {}
    for name, path in files.items():
        data = path.read_bytes()
        sha = content_hash(data)
        feats = cache.get(sha)
        if feats is None:
            cache.misses += 1
            wav, sr = load_audio(data, sample_rate=None)
            feats = backbone(wav.numpy(), sr)
            cache.put(sha, feats)
        else:
            cache.hits += 1
        out[name] = feats
    return out


@dataclass
class EvalResult:
    """Values by feature source (a backbone name, ``"audio"`` or ``"clap"``), then metric."""

    generated: str
    reference: str
    paired: bool
    counts: dict[str, int]
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    backbones: dict[str, str] = field(default_factory=dict)
    cache: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "reference": self.reference,
            "paired": self.paired,
            "counts": self.counts,
            "metrics": self.values,
            "backbones": self.backbones,
            "cache": self.cache,
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        lines = [
            f"generated: {self.generated} ({self.counts['generated']} files), reference: "
            f"{self.reference} ({self.counts['reference']} files), "
            + (f"paired ({self.counts['pairs']} pairs)" if self.paired else "unpaired"),
            "",
            "| metric | features | value |",
            "|---|---|---|",
        ]
        for source, values in self.values.items():
            for key, value in values.items():
                shown = (
                    f"{value:.0f}" if key in COUNT_KEYS or key.endswith("_n") else f"{value:.4f}"
                )
                lines.append(f"| {LABELS.get(key, key)} | {source} | {shown} |")
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines)


def feature_metrics(
    name: str,
    backbone: Backbone,
    gen: Mapping[str, Features],
    ref: Mapping[str, Features],
    wanted: Sequence[str],
    paired: bool,
    notes: list[str],
    fd_method: FDMethod = "sqrtm",
) -> dict[str, float]:
    from foleyldm.evaluation.fd import FrechetDistance
    from foleyldm.evaluation.inception_score import InceptionScore
    from foleyldm.evaluation.kid import KernelDistance
    from foleyldm.evaluation.kl import KLDivergence, pair_by_name

    out: dict[str, float] = {}
    if "fd" in wanted or "fad" in wanted:
        fd = FrechetDistance(method=fd_method)
        dim = backbone.embed_dim
        for side, feats in (("generated", gen), ("reference", ref)):
            if sum(_rows(f, backbone) for f in feats.values()) <= dim:
                notes.append(
                    f"FD ({name}): {side} has no more embeddings than dimensions ({dim}), so "
                    "its covariance is singular; compare such FDs only with each other"
                )
        for feats, real in ((gen, False), (ref, True)):
            for f in feats.values():
                rows = f.frames if backbone.frame_level_fd and f.frames is not None else f.embedding
                fd.update(rows, real=real)
        out["fad" if backbone.name == "vggish" else "fd"] = fd.compute()["fd"]
    has_logits = all(f.logits is not None for f in gen.values())
    if "is" in wanted:
        if not has_logits:
            notes.append(f"IS skipped for {name}: the backbone has no classifier")
        else:
            splits = min(10, len(gen))
            if splits < 10:
                notes.append(f"IS with {splits} splits (fewer than 10 generated clips)")
            isc = InceptionScore(splits=splits)
            isc.update(np.stack([f.logits for f in gen.values() if f.logits is not None]))
            out.update(isc.compute())
    if "kl" in wanted:
        if not paired:
            notes.append("KL skipped: the folders are not paired by file name")
        elif not has_logits:
            notes.append(f"KL skipped for {name}: the backbone has no classifier")
        else:
            _, g, r = pair_by_name(
                {k: f.logits for k, f in gen.items()}, {k: f.logits for k, f in ref.items()}
            )
            kl = KLDivergence()
            kl.update(g, r)
            out.update(kl.compute())
    if "kid" in wanted:
        kid = KernelDistance()
        kid.update(np.stack([f.embedding for f in gen.values()]), real=False)
        kid.update(np.stack([f.embedding for f in ref.values()]), real=True)
        out.update(kid.compute())
    return out


def _rows(f: Features, backbone: Backbone) -> int:
    return f.frames.shape[0] if backbone.frame_level_fd and f.frames is not None else 1


def _paired_audio_metrics(
    gen: Mapping[str, Path], ref: Mapping[str, Path], wanted: Sequence[str]
) -> dict[str, float]:
    from foleyldm.audio.io import load_audio
    from foleyldm.audio.mel import mel_spectrogram
    from foleyldm.evaluation.lsd import LogSpectralDistance
    from foleyldm.evaluation.psnr import MelPSNR
    from foleyldm.evaluation.ssim import MelSSIM

    lsd, psnr, ssim = LogSpectralDistance(), MelPSNR(), MelSSIM()
    for name in sorted(set(gen) & set(ref)):
        if "lsd" in wanted:
            r, sr = load_audio(ref[name], sample_rate=None)
            g, _ = load_audio(gen[name], sample_rate=sr)
            lsd.update(g.numpy(), r.numpy())
        if "psnr" in wanted or "ssim" in wanted:
            mels = [
                mel_spectrogram(load_audio(p, sample_rate=16000)[0]) for p in (gen[name], ref[name])
            ]
            if "psnr" in wanted:
                psnr.update(mels[0], mels[1])
            if "ssim" in wanted:
                ssim.update(mels[0], mels[1])
    out: dict[str, float] = {}
    for metric, key in ((lsd, "lsd"), (psnr, "psnr"), (ssim, "ssim")):
        if key in wanted:
            out.update(metric.compute())
    return out


def resolve_metrics(metrics: Sequence[str] | None, backbones: Mapping[str, Backbone]) -> list[str]:
    """The metric names to compute (None: the default set), validated."""
    if metrics is None:
        return ["fd", "is", "kl", "kid", *CLAP_METRICS, *PAIRED_AUDIO_METRICS]
    unknown = sorted(set(metrics) - set(ALL_METRICS))
    if unknown:
        raise EvalError(
            f"unknown metric(s) {', '.join(unknown)} (choose from {', '.join(ALL_METRICS)})"
        )
    if "fad" in metrics and "vggish" not in backbones:
        raise EvalError(
            "fad is FD on VGGish embeddings: add --backbone vggish --backbone-weights PATH"
        )
    return list(metrics)


def evaluate(
    generated: str | os.PathLike[str],
    reference: str | os.PathLike[str],
    backbones: Mapping[str, Backbone],
    metrics: Sequence[str] | None = None,
    prompts: Mapping[str, str] | None = None,
    clap: CLAP | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    fd_method: FDMethod = "sqrtm",
) -> EvalResult:
    """Compute the metrics of ``generated`` against ``reference``.

    Args:
        backbones: feature extractors by name (`foleyldm.evaluation.backbones.load_backbone`).
        metrics: names from `ALL_METRICS`; None: every metric the inputs allow (pair-only
            ones when paired, the CLAP score when ``prompts`` and ``clap`` are given).
        prompts: ``{name: caption}`` for the CLAP score and retrieval.
        cache_dir: feature and CLAP embedding cache root (None: no cache).
        fd_method: "sqrtm" (scipy, as audioldm_eval) or "eigh" (faster, same value).
    """
    explicit = metrics is not None
    wanted = resolve_metrics(metrics, backbones)
    gen_files, ref_files = list_audio(generated), list_audio(reference)
    paired = is_paired(gen_files, ref_files)
    result = EvalResult(
        str(generated),
        str(reference),
        paired,
        {
            "generated": len(gen_files),
            "reference": len(ref_files),
            "pairs": len(set(gen_files) & set(ref_files)),
        },
    )
    if any(m in wanted for m in FEATURE_METRICS):
        if not backbones:
            raise EvalError("feature metrics (fd, is, kl, kid) need a backbone")
        for name, backbone in backbones.items():
            cache = FeatureCache(cache_dir, backbone)
            gen = extract_features(backbone, gen_files, cache)
            ref = extract_features(backbone, ref_files, cache)
            result.backbones[name] = backbone.cache_key
            result.cache[name] = {"computed": cache.misses, "cached": cache.hits}
            chosen = [m for m in wanted if m != "fad" or name == "vggish"]
            result.values[name] = feature_metrics(
                name, backbone, gen, ref, chosen, paired, result.notes, fd_method
            )
    clap_wanted = [m for m in wanted if m in CLAP_METRICS]
    if clap_wanted:
        if prompts is not None and clap is not None:
            embedder = CLAPEmbedder(clap, cache_dir)
            result.values["clap"] = clap_metrics(
                gen_files, prompts, embedder, clap_wanted, result.notes
            )
            for kind, counts in embedder.counts.items():
                result.cache[f"clap-{kind}"] = dict(counts)
        elif explicit:
            raise EvalError(
                "the CLAP score and retrieval need --prompts CSV and a CLAP (--clap-model)"
            )
    paired_wanted = [m for m in wanted if m in PAIRED_AUDIO_METRICS]
    if paired_wanted:
        if paired:
            result.values["audio"] = _paired_audio_metrics(gen_files, ref_files, paired_wanted)
        elif explicit:
            result.notes.append(f"{', '.join(paired_wanted)} skipped: the folders are not paired")
    return result
