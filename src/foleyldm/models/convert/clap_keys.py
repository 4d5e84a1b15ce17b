"""LAION CLAP key mapping: original AudioLDM ``.ckpt`` layout <-> transformers ``Clap*`` models.

The original checkpoint keeps its conditioner under ``cond_stage_model.model.*`` in the naming of
the LAION CLAP code (``audio_branch``: HTSAT Swin transformer; ``text_branch``: a transformers
``RobertaModel``; ``{text,audio}_projection.{0,2}``: Linear-ReLU-Linear; ``logit_scale_{a,t}``).
transformers holds the same towers in ``ClapTextModelWithProjection`` (``text_model.*``,
``text_projection.linear{1,2}``) and ``ClapAudioModelWithProjection``
(``audio_model.audio_encoder.*``, ``audio_projection.linear{1,2}``).

Every renamed key is described once in :data:`RULES` (a pair of patterns, one per layout), so
both directions come from the same table; the only non-rename is the fused Swin ``attn.qkv``
Linear, split into ``query``/``key``/``value`` rows (in that order) and concatenated back.
Source keys that have no counterpart are dropped on purpose and listed in :data:`IGNORED` with
the reason; anything else under the prefix is returned in ``unknown`` (the caller raises).
Tensors are passed through untouched (same objects, same dtype), except the qkv thirds, which
are cloned so that no two output tensors share storage (safetensors refuses shared storage).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from foleyldm.models.clap.laion import (
    HTSAT_BASE_AUDIO_CONFIG,
    HTSAT_TINY_AUDIO_CONFIG,
    LAION_TEXT_CONFIG,
)

__all__ = [
    "CLAP_PREFIX",
    "IGNORED",
    "RULES",
    "ClapConversion",
    "clap_configs_from_state",
    "clap_hf_to_original",
    "clap_original_to_hf",
    "ignored_reason",
]

#: Where the AudioLDM ``LatentDiffusion`` state dict keeps the CLAP model.
CLAP_PREFIX = "cond_stage_model.model."

_TEXT_HF = "text_model."
_AUDIO_HF = "audio_model.audio_encoder."

# Placeholders usable in RULES patterns; each becomes a named regex group.
_SLOTS: dict[str, str] = {
    "i": r"\d+",
    "j": r"\d+",
    "wb": r"weight|bias",
    "bn": r"weight|bias|running_mean|running_var|num_batches_tracked",
    "emb": r"word_embeddings|position_embeddings|token_type_embeddings",
    "dense_ln": r"dense|LayerNorm",
    "qkv_name": r"query|key|value",
    "conv_idx": r"[03]",
    "bn_idx": r"[14]",
    "gconv_idx": r"[14]",
    "gbn_idx": r"[25]",
    "lin": r"linear1|linear2",
}

#: (original key after the prefix, transformers key) pattern pairs. ``{name}`` is a placeholder
#: (see ``_SLOTS``); a placeholder on both sides carries its value across unchanged. The qkv
#: rule is special-cased (one original tensor <-> three transformers tensors).
RULES: tuple[tuple[str, str], ...] = (
    # --- text tower: a RobertaModel state dict, same inner names in ClapTextModel ---
    ("text_branch.embeddings.{emb}.weight", _TEXT_HF + "embeddings.{emb}.weight"),
    ("text_branch.embeddings.LayerNorm.{wb}", _TEXT_HF + "embeddings.LayerNorm.{wb}"),
    # RoBERTa computes positions from the input ids, the buffer is an arange; carried as-is
    # (persistent in the transformers versions the AudioLDM checkpoints were saved with).
    ("text_branch.embeddings.position_ids", _TEXT_HF + "embeddings.position_ids"),
    (
        "text_branch.encoder.layer.{i}.attention.self.{qkv_name}.{wb}",
        _TEXT_HF + "encoder.layer.{i}.attention.self.{qkv_name}.{wb}",
    ),
    (
        "text_branch.encoder.layer.{i}.attention.output.{dense_ln}.{wb}",
        _TEXT_HF + "encoder.layer.{i}.attention.output.{dense_ln}.{wb}",
    ),
    (
        "text_branch.encoder.layer.{i}.intermediate.dense.{wb}",
        _TEXT_HF + "encoder.layer.{i}.intermediate.dense.{wb}",
    ),
    (
        "text_branch.encoder.layer.{i}.output.{dense_ln}.{wb}",
        _TEXT_HF + "encoder.layer.{i}.output.{dense_ln}.{wb}",
    ),
    ("text_branch.pooler.dense.{wb}", _TEXT_HF + "pooler.dense.{wb}"),
    # --- projections: nn.Sequential(Linear, ReLU, Linear) -> ClapProjectionLayer ---
    ("text_projection.0.{wb}", "text_projection.linear1.{wb}"),
    ("text_projection.2.{wb}", "text_projection.linear2.{wb}"),
    ("audio_projection.0.{wb}", "audio_projection.linear1.{wb}"),
    ("audio_projection.2.{wb}", "audio_projection.linear2.{wb}"),
    # --- audio tower: HTSAT ---
    ("audio_branch.bn0.{bn}", _AUDIO_HF + "batch_norm.{bn}"),
    ("audio_branch.patch_embed.proj.{wb}", _AUDIO_HF + "patch_embed.proj.{wb}"),
    ("audio_branch.patch_embed.norm.{wb}", _AUDIO_HF + "patch_embed.norm.{wb}"),
    # fusion models only ("aff_2d": the only fusion transformers implements)
    ("audio_branch.patch_embed.mel_conv2d.{wb}", _AUDIO_HF + "patch_embed.mel_conv2d.{wb}"),
    (
        "audio_branch.patch_embed.fusion_model.local_att.{conv_idx}.{wb}",
        _AUDIO_HF + "patch_embed.fusion_model.local_att.{conv_idx}.{wb}",
    ),
    (
        "audio_branch.patch_embed.fusion_model.local_att.{bn_idx}.{bn}",
        _AUDIO_HF + "patch_embed.fusion_model.local_att.{bn_idx}.{bn}",
    ),
    (
        "audio_branch.patch_embed.fusion_model.global_att.{gconv_idx}.{wb}",
        _AUDIO_HF + "patch_embed.fusion_model.global_att.{gconv_idx}.{wb}",
    ),
    (
        "audio_branch.patch_embed.fusion_model.global_att.{gbn_idx}.{bn}",
        _AUDIO_HF + "patch_embed.fusion_model.global_att.{gbn_idx}.{bn}",
    ),
    # Swin blocks
    (
        "audio_branch.layers.{i}.blocks.{j}.norm1.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.layernorm_before.{wb}",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.attn.relative_position_bias_table",
        _AUDIO_HF + "layers.{i}.blocks.{j}.attention.self.relative_position_bias_table",
    ),
    # Same Swin formula on both sides; carried so the converted model indexes exactly as the
    # original did (and loads strictly).
    (
        "audio_branch.layers.{i}.blocks.{j}.attn.relative_position_index",
        _AUDIO_HF + "layers.{i}.blocks.{j}.attention.self.relative_position_index",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.attn.qkv.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.attention.self.{qkv_name}.{wb}",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.attn.proj.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.attention.output.dense.{wb}",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.norm2.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.layernorm_after.{wb}",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.mlp.fc1.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.intermediate.dense.{wb}",
    ),
    (
        "audio_branch.layers.{i}.blocks.{j}.mlp.fc2.{wb}",
        _AUDIO_HF + "layers.{i}.blocks.{j}.output.dense.{wb}",
    ),
    (
        "audio_branch.layers.{i}.downsample.reduction.weight",
        _AUDIO_HF + "layers.{i}.downsample.reduction.weight",
    ),
    ("audio_branch.layers.{i}.downsample.norm.{wb}", _AUDIO_HF + "layers.{i}.downsample.norm.{wb}"),
    ("audio_branch.norm.{wb}", _AUDIO_HF + "norm.{wb}"),
)

_QKV_ORIG = "audio_branch.layers.{i}.blocks.{j}.attn.qkv.{wb}"
_QKV_ORDER = ("query", "key", "value")  # row order of the fused Swin qkv Linear

#: Original keys (regex on the key after the prefix) dropped on purpose, with the reason.
IGNORED: dict[str, str] = {
    r"text_transform\..*": (
        "MLP head applied to the normalised text embedding only for the contrastive / "
        "linear-probe losses; not part of get_text_embedding"
    ),
    r"audio_transform\..*": (
        "MLP head applied to the normalised audio embedding only for the contrastive / "
        "linear-probe losses; not part of get_audio_embedding"
    ),
    r"audio_branch\.spectrogram_extractor\..*": (
        "torchlibrosa STFT kernels (fixed DFT basis); ClapFeatureExtractor computes the "
        "spectrogram outside the model"
    ),
    r"audio_branch\.logmel_extractor\..*": (
        "torchlibrosa mel filter bank (fixed); ClapFeatureExtractor computes the log-mel "
        "outside the model"
    ),
    r"audio_branch\.tscam_conv\..*": (
        "HTSAT token-semantic AudioSet classification head; the CLAP embedding is the pooled "
        "feature taken before it"
    ),
    r"audio_branch\.head\..*": "HTSAT AudioSet classification head (unused by CLAP)",
    r"audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask": (
        "shifted-window attention mask, a function of the config; transformers builds it on "
        "the fly in every forward"
    ),
    r"text_branch\.embeddings\.token_type_ids": (
        "all-zero default token types, a function of the config; re-created (see derived)"
    ),
    r"attn_mask": "causal mask of the unused 'transformer' text branch (non-persistent)",
}


def _compile(pattern: str) -> tuple[re.Pattern[str], str]:
    """``pattern`` with placeholders -> (anchored regex with named groups, format template)."""
    regex, template, pos = "", "", 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        literal = pattern[pos : m.start()]
        regex += re.escape(literal) + f"(?P<{m.group(1)}>{_SLOTS[m.group(1)]})"
        template += literal + "{" + m.group(1) + "}"
        pos = m.end()
    regex += re.escape(pattern[pos:])
    template += pattern[pos:]
    return re.compile(regex + r"\Z"), template


@dataclass(frozen=True)
class _Rule:
    orig: re.Pattern[str]
    orig_fmt: str
    hf: re.Pattern[str]
    hf_fmt: str
    qkv: bool


def _build_rules() -> tuple[_Rule, ...]:
    rules = []
    for orig, hf in RULES:
        o_re, o_fmt = _compile(orig)
        h_re, h_fmt = _compile(hf)
        rules.append(_Rule(o_re, o_fmt, h_re, h_fmt, qkv=orig == _QKV_ORIG))
    return tuple(rules)


_RULES = _build_rules()
_IGNORED = tuple((re.compile(p + r"\Z"), why) for p, why in IGNORED.items())


def ignored_reason(key: str, prefix: str = CLAP_PREFIX) -> str | None:
    """Why ``key`` (a full original key) is dropped by the conversion; None if it is not."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    for regex, why in _IGNORED:
        if regex.match(rest):
            return why
    return None


@dataclass
class ClapConversion:
    """Result of :func:`clap_original_to_hf`.

    ``text`` / ``audio`` are complete state dicts for ``ClapTextModelWithProjection`` /
    ``ClapAudioModelWithProjection`` (empty when the tower is absent from the source).
    ``used``, ``ignored`` and ``unknown`` partition the source keys under the prefix (full key
    names); ``derived`` lists the transformers keys filled in without a source tensor (config
    functions: token_type_ids, and position_ids / relative_position_index /
    num_batches_tracked when the source lacks them).
    """

    text: dict[str, Tensor]
    audio: dict[str, Tensor]
    logit_scale_a: Tensor | None
    logit_scale_t: Tensor | None
    used: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    derived: set[str] = field(default_factory=set)

    def raise_for_unknown(self) -> None:
        """Raise ``KeyError`` listing the unknown source keys, if any."""
        if self.unknown:
            raise KeyError(f"unconverted CLAP keys: {sorted(self.unknown)}")


def _rel_index(window: int) -> Tensor:
    """The Swin relative-position index of a ``window`` x ``window`` window ([W², W²], int64)."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    ).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _fill_derived(text: dict[str, Tensor], audio: dict[str, Tensor]) -> set[str]:
    """Add the buffers that are functions of the config when the source lacks them."""
    added: set[str] = set()
    pos = text.get(_TEXT_HF + "embeddings.position_embeddings.weight")
    if pos is not None:
        n = pos.shape[0]
        for name, make in (
            ("position_ids", lambda: torch.arange(n, device=pos.device)[None]),
            ("token_type_ids", lambda: torch.zeros(1, n, dtype=torch.long, device=pos.device)),
        ):
            key = _TEXT_HF + "embeddings." + name
            if key not in text:
                text[key] = make()
                added.add(key)
    for key, value in list(audio.items()):
        if key.endswith(".relative_position_bias_table"):
            index_key = key.replace("_bias_table", "_index")
            if index_key not in audio:
                window = (math.isqrt(value.shape[0]) + 1) // 2
                audio[index_key] = _rel_index(window).to(value.device)
                added.add(index_key)
        elif key.endswith(".running_mean"):
            count_key = key.replace("running_mean", "num_batches_tracked")
            if count_key not in audio:
                audio[count_key] = torch.zeros((), dtype=torch.long, device=value.device)
                added.add(count_key)
    return added


def clap_original_to_hf(state: Mapping[str, Tensor], prefix: str = CLAP_PREFIX) -> ClapConversion:
    """Split and rename the original CLAP weights under ``prefix`` into transformers layouts.

    Keys outside ``prefix`` are not looked at. Nothing is raised for unknown keys: check
    ``result.unknown`` (or call ``result.raise_for_unknown()``).
    """
    out = ClapConversion(text={}, audio={}, logit_scale_a=None, logit_scale_t=None)
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if rest in ("logit_scale_a", "logit_scale_t"):
            setattr(out, rest, value)
            out.used.add(key)
            continue
        for rule in _RULES:
            m = rule.orig.match(rest)
            if m is None:
                continue
            groups = m.groupdict()
            if rule.qkv:
                if value.shape[0] % 3:
                    raise ValueError(f"{key}: fused qkv with {value.shape[0]} rows (not 3·dim)")
                for name, part in zip(_QKV_ORDER, value.chunk(3, dim=0), strict=True):
                    out.audio[rule.hf_fmt.format(**groups, qkv_name=name)] = part.clone()
            else:
                new = rule.hf_fmt.format(**groups)
                (out.text if new.startswith("text_") else out.audio)[new] = value
            out.used.add(key)
            break
        else:
            if ignored_reason(key, prefix) is not None:
                out.ignored.add(key)
            else:
                out.unknown.add(key)
    out.derived = _fill_derived(out.text, out.audio)
    return out


# transformers-only buffers that the original layout does not store (see IGNORED).
_HF_ONLY = (re.compile(re.escape(_TEXT_HF) + r"embeddings\.token_type_ids\Z"),)


def clap_hf_to_original(
    text_state: Mapping[str, Tensor] | None,
    audio_state: Mapping[str, Tensor] | None,
    logit_scale_a: Tensor | None = None,
    logit_scale_t: Tensor | None = None,
    prefix: str = CLAP_PREFIX,
) -> dict[str, Tensor]:
    """The inverse of :func:`clap_original_to_hf`: transformers state dicts -> original keys.

    Produces exactly the keys the forward conversion *uses*: ``text_branch.*`` (including the
    ``embeddings.position_ids`` buffer, persistent in the RoBERTa the checkpoints were saved
    with), ``audio_branch.*`` (with ``relative_position_index`` and ``bn0.num_batches_tracked``),
    the projections and the given logit scales. Ignored original keys (transform heads,
    torchlibrosa buffers, tscam/head, ``attn_mask`` buffers) are not re-created, and the
    transformers-only ``token_type_ids`` buffer is dropped; so the result is not a loadable
    LAION CLAP state dict, only the part that this module converts. ``qkv`` is the
    concatenation of ``query``, ``key``, ``value`` (new tensors); other tensors are passed
    through. Raises ``KeyError`` on a key that no rule covers or an incomplete q/k/v triple.
    """
    out: dict[str, Tensor] = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    unknown: list[str] = []
    for state in (text_state or {}, audio_state or {}):
        for key, value in state.items():
            if any(r.match(key) for r in _HF_ONLY):
                continue
            for rule in _RULES:
                m = rule.hf.match(key)
                if m is None:
                    continue
                groups = m.groupdict()
                if rule.qkv:
                    name = groups.pop("qkv_name")
                    qkv.setdefault(prefix + rule.orig_fmt.format(**groups), {})[name] = value
                else:
                    out[prefix + rule.orig_fmt.format(**groups)] = value
                break
            else:
                unknown.append(key)
    if unknown:
        raise KeyError(f"no original CLAP name for: {sorted(unknown)}")
    for key, parts in qkv.items():
        missing = [n for n in _QKV_ORDER if n not in parts]
        if missing:
            raise KeyError(f"{key}: missing {missing} of query/key/value")
        out[key] = torch.cat([parts[n] for n in _QKV_ORDER], dim=0)
    for name, scale in (("logit_scale_a", logit_scale_a), ("logit_scale_t", logit_scale_t)):
        if scale is not None:
            out[prefix + name] = scale
    return out


# ----------------------------------------------------------------------------------------------
# Config inference


def _indices(keys: list[str], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := regex.match(k))})


def _text_config(state: Mapping[str, Tensor], p: str, heads: int | None) -> dict[str, Any]:
    t = p + "text_branch."
    keys = [k[len(t) :] for k in state if k.startswith(t)]
    if "embeddings.word_embeddings.weight" not in keys:
        raise ValueError(f"no CLAP text tower under {t!r}")
    vocab, hidden = state[t + "embeddings.word_embeddings.weight"].shape
    layers = _indices(keys, r"encoder\.layer\.(\d+)\.")
    if layers != list(range(len(layers))):
        raise ValueError(f"text encoder layers are not contiguous: {layers}")
    if heads is None:
        if hidden == LAION_TEXT_CONFIG["hidden_size"]:
            heads = int(LAION_TEXT_CONFIG["num_attention_heads"])
        elif hidden % 64 == 0:
            heads = hidden // 64  # RoBERTa / BERT head width
        else:
            raise ValueError(f"cannot infer text attention heads for hidden size {hidden}")
    proj1 = state[p + "text_projection.0.weight"]
    proj2 = state[p + "text_projection.2.weight"]
    if proj1.shape[1] != hidden or proj2.shape[1] != proj1.shape[0]:
        raise ValueError(f"text projection {tuple(proj1.shape)}, {tuple(proj2.shape)} vs {hidden}")
    cfg = dict(LAION_TEXT_CONFIG)
    cfg.update(
        vocab_size=int(vocab),
        hidden_size=int(hidden),
        num_hidden_layers=len(layers),
        num_attention_heads=heads,
        intermediate_size=int(state[t + "encoder.layer.0.intermediate.dense.weight"].shape[0]),
        max_position_embeddings=int(state[t + "embeddings.position_embeddings.weight"].shape[0]),
        type_vocab_size=int(state[t + "embeddings.token_type_embeddings.weight"].shape[0]),
        projection_dim=int(proj2.shape[0]),
        # The original text branch is RobertaModel.from_pretrained("roberta-base"): LayerNorm eps
        # 1e-5 (ClapTextConfig's default is 1e-12).
        layer_norm_eps=1e-5,
    )
    return cfg


def _audio_config(state: Mapping[str, Tensor], p: str) -> dict[str, Any]:
    a = p + "audio_branch."
    keys = [k[len(a) :] for k in state if k.startswith(a)]
    if "patch_embed.proj.weight" not in keys:
        raise ValueError(f"no CLAP audio tower under {a!r}")
    embed, in_ch, patch, _ = state[a + "patch_embed.proj.weight"].shape
    stages = _indices(keys, r"layers\.(\d+)\.")
    if stages != list(range(len(stages))) or not stages:
        raise ValueError(f"HTSAT stages are not contiguous: {stages}")
    depths = [len(_indices(keys, rf"layers\.{i}\.blocks\.(\d+)\.")) for i in stages]
    heads = [
        int(state[f"{a}layers.{i}.blocks.0.attn.relative_position_bias_table"].shape[1])
        for i in stages
    ]
    table = state[a + "layers.0.blocks.0.attn.relative_position_bias_table"]
    window = (math.isqrt(table.shape[0]) + 1) // 2
    fc1 = state[a + "layers.0.blocks.0.mlp.fc1.weight"]
    features = int(embed) * 2 ** (len(stages) - 1)
    proj1 = state[p + "audio_projection.0.weight"]
    proj2 = state[p + "audio_projection.2.weight"]
    if proj1.shape[1] != features or state[a + "norm.weight"].shape[0] != features:
        raise ValueError(
            f"HTSAT output width {features} (embed {embed}, {len(stages)} stages) does not match "
            f"norm {tuple(state[a + 'norm.weight'].shape)} / projection {tuple(proj1.shape)}"
        )
    base_embed = HTSAT_BASE_AUDIO_CONFIG["patch_embeds_hidden_size"]
    base = HTSAT_BASE_AUDIO_CONFIG if int(embed) == base_embed else HTSAT_TINY_AUDIO_CONFIG
    cfg = dict(base)
    patch_stride = cfg["patch_stride"] if int(patch) == cfg["patch_size"] else [int(patch)] * 2
    cfg.update(
        patch_embeds_hidden_size=int(embed),
        patch_embed_input_channels=int(in_ch),
        patch_size=int(patch),
        patch_stride=list(patch_stride),
        depths=depths,
        num_attention_heads=heads,
        hidden_size=features,
        window_size=window,
        num_mel_bins=int(state[a + "bn0.weight"].shape[0]),
        mlp_ratio=float(fc1.shape[0] / fc1.shape[1]),
        qkv_bias=(a + "layers.0.blocks.0.attn.qkv.bias") in state,
        enable_patch_layer_norm=(a + "patch_embed.norm.weight") in state,
        projection_dim=int(proj2.shape[0]),
    )
    # spec_size only shows in the shifted-window masks: [nW, W², W²] with nW = (grid / W)² at
    # stage i, grid = spec_size / stride / 2**i.
    for key in keys:
        m = re.match(r"layers\.(\d+)\.blocks\.\d+\.attn_mask\Z", key)
        if m:
            n_windows, area, _ = state[a + key].shape
            side = math.isqrt(n_windows) * math.isqrt(area) * 2 ** int(m.group(1))
            cfg["spec_size"] = side * cfg["patch_stride"][0]
            break
    if (a + "patch_embed.mel_conv2d.weight") in state:
        inter = state[a + "patch_embed.fusion_model.local_att.0.weight"].shape[0]
        cfg.update(enable_fusion=True, fusion_type="aff_2d", aff_block_r=int(embed) // int(inter))
    return cfg


def clap_configs_from_state(
    state: Mapping[str, Tensor],
    prefix: str = CLAP_PREFIX,
    text_heads: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(ClapTextConfig kwargs, ClapAudioConfig kwargs)`` for the original CLAP under ``prefix``.

    Shapes give the sizes (vocabulary, widths, layer / block counts, per-stage Swin heads from
    the relative-position tables, window, mel bins, projection width, fusion); the rest comes
    from the matching preset of :mod:`foleyldm.models.clap.laion` (``LAION_TEXT_CONFIG``,
    ``HTSAT_TINY_AUDIO_CONFIG`` or ``HTSAT_BASE_AUDIO_CONFIG`` by patch-embedding width), so the
    released checkpoints give the presets back (plus the text ``layer_norm_eps`` 1e-5 of
    RoBERTa). Not visible in shapes: the text head count (preset for width 768, else width/64,
    or ``text_heads``), ``patch_stride`` (preset when the patch size matches, else the patch
    size) and ``spec_size`` (from a shifted-window ``attn_mask`` buffer when present, else the
    preset's 256). Works on meta tensors.
    """
    return _text_config(state, prefix, text_heads), _audio_config(state, prefix)
