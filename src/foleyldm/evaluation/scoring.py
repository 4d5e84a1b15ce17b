"""Score a system's outputs for a prompt set (the scoring half of ``benchmark-model``).

The outputs are named clips (one per prompt-set row); the references are the rows' own
clips, or another set's (``reference``). Feature metrics (FD/FAD, IS, KL, KID) run on each
backbone, CLAP score and text→audio retrieval on the chosen CLAP, and the controllability
probes on clips whose caption asks for one. Backbone features and CLAP embeddings come from
the evaluation cache, so re-scoring reads them back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from foleyldm.evaluation.backbones import BackboneError, load_backbone
from foleyldm.evaluation.fd import FDMethod
from foleyldm.evaluation.runner import (
    FEATURE_METRICS,
    EvalError,
    EvalResult,
    extract_features,
    feature_metrics,
    is_paired,
)

if TYPE_CHECKING:
    from foleyldm.evaluation.backbones.base import Backbone
    from foleyldm.evaluation.backbones.yamnet import YAMNet
    from foleyldm.models.clap.base import CLAP

METRICS = (*FEATURE_METRICS, "clap", "retrieval", "probes")
DEFAULT_METRICS = ("fd", "is", "kl", "kid", "clap", "retrieval", "probes")
DEFAULT_BACKBONES = ("yamnet", "aisfx")
#: Feature metrics that compare outputs with references (trivial when they are the same).
RELATIVE_METRICS = ("fd", "fad", "kl", "kid")


@dataclass
class ScoreOptions:
    """What to compute.

    Attributes:
        metrics: names from `METRICS`; None: `DEFAULT_METRICS`, each backbone with a
            classifier getting FD, IS, KL and KID, the others FD only.
        backbones: None: `DEFAULT_BACKBONES` (one that cannot load becomes a note).
        backbone_weights: official weight files by backbone (cnn14, vggish).
        cache_dir: feature and CLAP embedding cache (None: no cache).
    """

    metrics: Sequence[str] | None = None
    backbones: Sequence[str] | None = None
    backbone_weights: Mapping[str, str] = field(default_factory=dict)
    cache_dir: str | os.PathLike[str] | None = None
    fd_method: FDMethod = "sqrtm"
    pitch_method: Literal["pyin", "yin"] = "pyin"
    device: str = "cpu"


def check_metrics(metrics: Sequence[str] | None, backbones: Sequence[str] | None) -> list[str]:
    """The metric names to compute, validated (None: `DEFAULT_METRICS`)."""
    if metrics is None:
        return list(DEFAULT_METRICS)
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise EvalError(
            f"unknown metric(s) {', '.join(unknown)} (choose from {', '.join(METRICS)})"
        )
    if "fad" in metrics and "vggish" not in (backbones or ()):
        raise EvalError("fad is FD on VGGish embeddings: add --backbone vggish")
    return list(metrics)


def _load_backbones(opts: ScoreOptions, notes: list[str]) -> dict[str, Backbone]:
    names = list(opts.backbones) if opts.backbones is not None else list(DEFAULT_BACKBONES)
    out: dict[str, Backbone] = {}
    for name in names:
        try:
            out[name] = load_backbone(name, opts.backbone_weights.get(name), device=opts.device)
        except BackboneError as err:
            if opts.backbones is not None:
                raise
            notes.append(f"backbone {name} left out: {err}")
    return out


def score_outputs(
    outputs: Mapping[str, Path],
    captions: Mapping[str, str],
    references: Mapping[str, Path],
    opts: ScoreOptions,
    clap: CLAP | None = None,
    same_clips: bool = False,
    labels: tuple[str, str] = ("outputs", "references"),
) -> EvalResult:
    """Metrics of ``outputs`` ({name: file}) against ``references`` ({name: file}).

    Args:
        captions: ``{name: caption}`` of the outputs (CLAP metrics and probes).
        clap: the CLAP that scores clips against captions (None: those metrics are absent).
        same_clips: the outputs *are* the references (the ``real`` system without another
            reference set): FD, KID and KL would be trivially zero and are left absent.
        labels: how the outputs and references are named in the report.
    """
    explicit = opts.metrics is not None
    wanted = check_metrics(opts.metrics, opts.backbones)
    paired = is_paired(outputs, references)
    result = EvalResult(
        labels[0],
        labels[1],
        paired,
        {
            "generated": len(outputs),
            "reference": len(references),
            "pairs": len(set(outputs) & set(references)),
        },
    )
    notes = result.notes
    if same_clips and any(m in wanted for m in RELATIVE_METRICS):
        notes.append(
            "FD, KID and KL absent: the outputs are the reference clips themselves "
            "(pass another reference set for a ceiling)"
        )
        wanted = [m for m in wanted if m not in RELATIVE_METRICS]
    features = [m for m in wanted if m in FEATURE_METRICS]
    backbones = _load_backbones(opts, notes) if features else {}
    for name, backbone in backbones.items():
        from foleyldm.evaluation.cache import FeatureCache

        chosen = features
        if not explicit:
            chosen = [m for m in features if backbone.class_names is not None or m == "fd"]
        if not chosen:
            continue
        cache = FeatureCache(opts.cache_dir, backbone)
        gen = extract_features(backbone, outputs, cache)
        needs_ref = any(m in chosen for m in RELATIVE_METRICS)
        ref = extract_features(backbone, references, cache) if needs_ref else {}
        result.backbones[name] = backbone.cache_key
        result.cache[name] = {"computed": cache.misses, "cached": cache.hits}
        result.values[name] = feature_metrics(
            name, backbone, gen, ref, chosen, paired, notes, opts.fd_method
        )
    clap_wanted = [m for m in wanted if m in ("clap", "retrieval")]
    if clap_wanted and clap is None:
        if explicit:
            raise EvalError("the CLAP score and retrieval need a CLAP (--clap MODEL)")
        notes.append("CLAP score and retrieval absent: no CLAP (pass --clap MODEL)")
    elif clap_wanted and clap is not None:
        from foleyldm.evaluation.clap_embed import CLAPEmbedder, clap_metrics

        embedder = CLAPEmbedder(clap, opts.cache_dir)
        result.values["clap"] = clap_metrics(outputs, captions, embedder, clap_wanted, notes)
        for kind, counts in embedder.counts.items():
            result.cache[f"clap-{kind}"] = dict(counts)
    if "probes" in wanted:
        probes = _probes(outputs, captions, backbones, opts, notes)
        if probes:
            result.values["probes"] = probes
    return result


def _probes(
    outputs: Mapping[str, Path],
    captions: Mapping[str, str],
    backbones: Mapping[str, Backbone],
    opts: ScoreOptions,
    notes: list[str],
) -> dict[str, float]:
    from foleyldm.evaluation.probes import animal_of, mentions_speech, probe_clips

    clips = {n: (captions[n], p) for n, p in outputs.items() if n in captions}
    yamnet: YAMNet | None = None
    if any(mentions_speech(c) or animal_of(c) for c, _ in clips.values()):
        from foleyldm.evaluation.backbones.yamnet import YAMNet

        found = backbones.get("yamnet")
        if isinstance(found, YAMNet):
            yamnet = found
        else:
            try:
                yamnet = YAMNet()
            except BackboneError as err:
                notes.append(f"speech and animal probes skipped: {err}")
    try:
        return probe_clips(clips, yamnet, opts.pitch_method)
    except ImportError as err:
        notes.append(f"probes skipped: {err} (pip install librosa)")
        return {}
