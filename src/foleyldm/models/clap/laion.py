"""LAION CLAP (CLAP backend ``"laion"``): the conditioner of the released AudioLDM models.

A thin adapter over transformers' ``ClapTextModelWithProjection`` (RoBERTa text tower) and,
when the checkpoint has one, ``ClapAudioModelWithProjection`` (HTSAT audio tower, 48 kHz).
Folders use the diffusers AudioLDM pipeline layout: ``text_encoder/`` + ``tokenizer/``, and
optionally ``audio_encoder/`` + ``feature_extractor/`` (diffusers' AudioLDM repos ship the
text side only).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import soxr
import torch
from torch.nn import functional as F
from transformers import (
    AutoTokenizer,
    ClapAudioConfig,
    ClapAudioModelWithProjection,
    ClapFeatureExtractor,
    ClapTextConfig,
    ClapTextModelWithProjection,
    PreTrainedModel,
)

from foleyldm.models.clap.base import CLAP
from foleyldm.models.clap.dual import minilm_tokenizer

TEXT_ENCODER, TOKENIZER = "text_encoder", "tokenizer"
AUDIO_ENCODER, FEATURE_EXTRACTOR = "audio_encoder", "feature_extractor"

#: The AudioLDM / LAION CLAP text tower: RoBERTa-base projected to 512.
LAION_TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "projection_dim": 512,
    "projection_hidden_act": "relu",
}

#: HTSAT-tiny CLAP audio tower (audioldm-s, audioldm-l): embed 96, output 96 * 2**3 = 768.
HTSAT_TINY_AUDIO_CONFIG: dict[str, Any] = {
    "patch_embeds_hidden_size": 96,
    "depths": [2, 2, 6, 2],
    "num_attention_heads": [4, 8, 16, 32],
    "hidden_size": 768,
    "window_size": 8,
    "spec_size": 256,
    "num_mel_bins": 64,
    "patch_size": 4,
    "patch_stride": [4, 4],
    "mlp_ratio": 4.0,
    "enable_fusion": False,
    "projection_dim": 512,
    "projection_hidden_act": "relu",
}

#: HTSAT-base CLAP audio tower (audioldm-m): embed 128, output 128 * 2**3 = 1024.
HTSAT_BASE_AUDIO_CONFIG: dict[str, Any] = {
    **HTSAT_TINY_AUDIO_CONFIG,
    "patch_embeds_hidden_size": 128,
    "depths": [2, 2, 12, 2],
    "hidden_size": 1024,
}

# Buffers that transformers re-derives on load (older checkpoints may lack them); any other
# missing key is an error, never a silent random initialisation.
_DERIVED_BUFFERS = (
    "position_ids",
    "token_type_ids",
    "relative_position_index",
    "num_batches_tracked",
)

_M = TypeVar("_M", bound=PreTrainedModel)


def _load_checked(cls: type[_M], path: Path) -> _M:
    """``cls.from_pretrained(path)`` in float32, failing on missing or mis-shaped weights."""
    with torch.random.fork_rng(devices=[]):  # missing-weight init must not move the global RNG
        loaded: Any = cls.from_pretrained(path, dtype=torch.float32, output_loading_info=True)
    model, info = loaded
    missing = sorted(k for k in info["missing_keys"] if not k.endswith(_DERIVED_BUFFERS))
    mismatched = sorted(str(k) for k in info["mismatched_keys"])
    if missing or mismatched:
        raise ValueError(f"{path}: missing weights {missing}, mis-shaped weights {mismatched}")
    if info["unexpected_keys"]:
        warnings.warn(
            f"{path}: ignored unexpected weights {sorted(info['unexpected_keys'])}", stacklevel=3
        )
    return model.eval()


def default_feature_extractor(audio_config: ClapAudioConfig) -> ClapFeatureExtractor:
    """The LAION HTSAT front end: 48 kHz, 10 s, hop 480, 50-14 000 Hz, repeat-padding."""
    return ClapFeatureExtractor(
        feature_size=audio_config.num_mel_bins,
        sampling_rate=48_000,
        hop_length=480,
        max_length_s=10,
        fft_window_size=1024,
        frequency_min=50,
        frequency_max=14_000,
        truncation="fusion" if audio_config.enable_fusion else "rand_trunc",
        padding="repeatpad",
    )


class LaionCLAP(CLAP):
    """LAION CLAP through transformers; text always, audio when the checkpoint has it."""

    backend = "laion"

    def __init__(
        self,
        text_encoder: ClapTextModelWithProjection,
        tokenizer: Any,
        audio_encoder: ClapAudioModelWithProjection | None = None,
        feature_extractor: ClapFeatureExtractor | None = None,
    ) -> None:
        super().__init__()
        if (audio_encoder is None) != (feature_extractor is None):
            raise ValueError("audio_encoder and feature_extractor come together (both or neither)")
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        # diffusers' AudioLDMPipeline pads to tokenizer.model_max_length: keep it within the
        # text tower's positions so a saved folder runs there too (RoBERTa: 512 either way).
        self.tokenizer.model_max_length = self.max_text_length
        self.audio_encoder = audio_encoder
        self.feature_extractor = feature_extractor
        self.embed_dim = int(text_encoder.config.projection_dim)
        if audio_encoder is not None and audio_encoder.config.projection_dim != self.embed_dim:
            raise ValueError(
                f"audio projection_dim {audio_encoder.config.projection_dim} != "
                f"text projection_dim {self.embed_dim}"
            )

    @property
    def can_encode_audio(self) -> bool:
        return self.audio_encoder is not None

    @property
    def max_text_length(self) -> int:
        """Tokens per prompt: 512 for RoBERTa (positions start after the padding id)."""
        cfg = self.text_encoder.config
        positions = int(cfg.max_position_embeddings) - int(cfg.pad_token_id or 0) - 1
        return min(512, int(self.tokenizer.model_max_length), positions)

    @classmethod
    def build(
        cls,
        text_config: dict[str, Any],
        audio_config: dict[str, Any] | None = None,
        seed: int = 0,
        tokenizer: Any = None,
    ) -> LaionCLAP:
        """Random weights from ``seed`` (global RNG untouched) for ``ClapTextConfig`` /
        ``ClapAudioConfig`` kwargs; no audio tower when ``audio_config`` is None.

        Without a ``tokenizer``, the MiniLM package's BERT WordPiece tokenizer is used: the
        RoBERTa vocabulary files cannot be fetched offline, and its ids (< 30 522) are valid
        rows of RoBERTa's 50 265-word table. The special-token ids of the text config are set
        to that tokenizer's. Real checkpoints bring their own RobertaTokenizer.
        """
        text_kwargs = dict(text_config)
        if tokenizer is None:
            tokenizer = minilm_tokenizer()
            text_kwargs.update(
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.cls_token_id,
                eos_token_id=tokenizer.sep_token_id,
            )
        text_cfg = ClapTextConfig(**text_kwargs)
        if text_cfg.vocab_size < len(tokenizer):
            raise ValueError(f"vocab_size {text_cfg.vocab_size} < tokenizer size {len(tokenizer)}")
        audio_cfg = ClapAudioConfig(**audio_config) if audio_config is not None else None
        if audio_cfg is not None:
            features = audio_cfg.patch_embeds_hidden_size * 2 ** (len(audio_cfg.depths) - 1)
            if audio_cfg.hidden_size != features:
                raise ValueError(
                    f"ClapAudioConfig hidden_size must be patch_embeds_hidden_size * "
                    f"2**(len(depths) - 1) = {features}, got {audio_cfg.hidden_size}"
                )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            text = ClapTextModelWithProjection(text_cfg).eval()
            audio = (
                ClapAudioModelWithProjection(audio_cfg).eval() if audio_cfg is not None else None
            )
        extractor = default_feature_extractor(audio_cfg) if audio_cfg is not None else None
        return cls(text, tokenizer, audio, extractor)

    @classmethod
    def from_pretrained(cls, root: str | os.PathLike[str]) -> LaionCLAP:
        """Load ``root/text_encoder`` + ``root/tokenizer`` (+ audio side if present), float32."""
        root = Path(root)
        for sub in (TEXT_ENCODER, TOKENIZER):
            if not (root / sub).is_dir():
                raise FileNotFoundError(f"no LAION CLAP in {root}: {sub}/ is missing")
        text = _load_checked(ClapTextModelWithProjection, root / TEXT_ENCODER)
        tokenizer = AutoTokenizer.from_pretrained(root / TOKENIZER)
        audio, extractor = None, None
        if (root / AUDIO_ENCODER).is_dir():
            if not (root / FEATURE_EXTRACTOR).is_dir():
                raise FileNotFoundError(f"{root} has {AUDIO_ENCODER}/ but no {FEATURE_EXTRACTOR}/")
            audio = _load_checked(ClapAudioModelWithProjection, root / AUDIO_ENCODER)
            extractor = ClapFeatureExtractor.from_pretrained(root / FEATURE_EXTRACTOR)
        return cls(text, tokenizer, audio, extractor)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write the diffusers-layout subfolders into ``directory`` (safetensors)."""
        root = Path(directory)
        self.text_encoder.save_pretrained(root / TEXT_ENCODER)
        self.tokenizer.save_pretrained(root / TOKENIZER)
        if self.audio_encoder is not None and self.feature_extractor is not None:
            self.audio_encoder.save_pretrained(root / AUDIO_ENCODER)
            self.feature_extractor.save_pretrained(root / FEATURE_EXTRACTOR)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> [B, D] unit-norm ``text_embeds`` (padding to max_length, as diffusers)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        enc = self.tokenizer(
            texts,
            padding="max_length",
            max_length=self.max_text_length,
            truncation=True,
            return_tensors="pt",
        )
        out = self.text_encoder(
            input_ids=enc["input_ids"].to(self.device),
            attention_mask=enc["attention_mask"].to(self.device),
        )
        return F.normalize(out.text_embeds.float(), dim=-1)

    def encode_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms [B, N] / [B, 1, N] at ``sample_rate`` -> [B, D] unit-norm ``audio_embeds``.

        Resampled to 48 kHz with soxr. Clips longer than 10 s are cropped from the start (the
        reference crops at random), so embeddings are deterministic.
        """
        if self.audio_encoder is None or self.feature_extractor is None:
            raise RuntimeError(
                "this LAION CLAP checkpoint ships no CLAP audio tower (no audio_encoder/ folder; "
                "diffusers' AudioLDM repos contain only the text encoder), so it cannot embed "
                "audio: use a checkpoint converted with its audio tower or the 'dual' backend"
            )
        fe = self.feature_extractor
        if wav.dim() == 3 and wav.shape[1] == 1:
            wav = wav[:, 0]
        elif wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise ValueError(
                f"expected waveforms [B, N] or [B, 1, N] with N > 0, got {tuple(wav.shape)}"
            )
        rows = [r for r in wav.detach().float().cpu().numpy()]
        if sample_rate != fe.sampling_rate:
            rows = [soxr.resample(r, sample_rate, fe.sampling_rate) for r in rows]
        rows = [r[: fe.nb_max_samples] for r in rows]
        # The extractor draws from numpy's global RNG in "fusion" mode; keep it untouched.
        np_state = np.random.get_state()
        try:
            feats = fe(rows, sampling_rate=fe.sampling_rate, return_tensors="pt")
        finally:
            np.random.set_state(np_state)
        dtype = next(self.audio_encoder.parameters()).dtype
        out = self.audio_encoder(
            input_features=feats["input_features"].to(self.device, dtype),
            # No clip is longer than the window after cropping (the extractor would flag one
            # at random in fusion mode).
            is_longer=torch.zeros(len(rows), 1, dtype=torch.bool, device=self.device),
        )
        return F.normalize(out.audio_embeds.float(), dim=-1)
