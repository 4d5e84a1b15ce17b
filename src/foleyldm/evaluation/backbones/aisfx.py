"""aisfx: a 512-d sound-effects embedding (Ma & Lerch, ISMIR 2022), a second FD backbone.

Weights: ``aisfx/models/checkpoint.pth`` inside the PyPI package ``aisfx`` (install with
``pip install --no-deps aisfx``). Licence: the weights and paper are CC BY 4.0 ("Copyright
(c) 2022 A.B. Ma and A. Lerch", LICENSE in the wheel; attribute when publishing numbers);
the package code is declared MIT. We do not import the package's code: only its checkpoint
is read, from the installed package's own folder (never from a user path), with
``torch.load(weights_only=True)`` and an allowlist of exactly the numpy scalar types its
dataset table pickles (the file needs no arbitrary code).

Model: the 4-block CNN of the DCASE cross-task baseline (64–512 channels, 3×3 convs, BN,
ReLU, 2×2 max pooling), mean over frequency, max over time -> 512-d. Front end as in the
package's librosa path: 44.1 kHz, peak-normalised, power mel (n_fft 2048, hop 1024, 96 HTK
bands 0–22050 Hz, unit-sum filters), ``log10(10⁴·x + 1) / 9.4578`` (the paper's min–max),
time-major blocks of 100 frames (≈ 2.3 s) every 50 frames, the incomplete tail dropped
(a clip shorter than one block is zero-padded to one). The paper computed the mel with
Essentia; the librosa path differs slightly (the package says so).

Per clip: ``embedding`` = mean over blocks.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from foleyldm.evaluation.backbones.base import Backbone, BackboneError, Features
from foleyldm.evaluation.backbones.weights import load_strict

SAMPLE_RATE = 44100
BLOCK, BLOCK_HOP = 100, 50
SPEC_MAX = 9.457798957824707


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, pool)


class AisfxNet(nn.Module):
    """The embedding network with the checkpoint's names (``embedding_net.`` stripped)."""

    def __init__(self) -> None:
        super().__init__()
        widths = [1, 64, 128, 256, 512]
        for i in range(4):
            self.add_module(f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blocks [B, 100, 96] -> embeddings [B, 512]."""
        x = x[:, None]
        for i in range(1, 5):
            x = getattr(self, f"conv_block{i}")(x, 2 if i < 4 else 1)
        return x.mean(dim=3).amax(dim=2)


def _checkpoint() -> Path:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(str(distribution("aisfx").locate_file("aisfx/models/checkpoint.pth")))
    except PackageNotFoundError:
        raise BackboneError("the aisfx backbone needs: pip install --no-deps aisfx") from None
    if not path.is_file():
        raise BackboneError("the installed 'aisfx' package has no models/checkpoint.pth")
    return path


@functools.cache
def _load() -> tuple[AisfxNet, str]:
    from numpy._core.multiarray import scalar

    path = _checkpoint()
    allowed: list[Any] = [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
    with torch.serialization.safe_globals(allowed):
        weights, _datasets = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "embedding_net."
    state = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    net = AisfxNet().eval()
    load_strict(net, state, str(path))
    return net, hashlib.sha256(path.read_bytes()).hexdigest()


def blocks(spec: np.ndarray) -> np.ndarray:
    """[T, 96] -> [B, 100, 96]: every 50 frames, tail dropped, at least one (zero-padded)."""
    count = max(1, 1 + (spec.shape[0] - BLOCK) // BLOCK_HOP)
    padded = np.concatenate([spec, np.zeros((BLOCK, spec.shape[1]), spec.dtype)])
    return np.stack([padded[i * BLOCK_HOP : i * BLOCK_HOP + BLOCK] for i in range(count)])


class AisfxBackbone(Backbone):
    name = "aisfx"
    version = "1"
    sample_rate = SAMPLE_RATE
    embed_dim = 512

    def __init__(self, device: str = "cpu") -> None:
        net, self._digest = _load()
        self.model = net.to(device)
        self.device = device

    @property
    def weights_digest(self) -> str:
        return self._digest

    @staticmethod
    def spectrogram(wav: np.ndarray) -> np.ndarray:
        """44.1 kHz clip [N] -> normalised log-mel [T, 96] (float32)."""
        import librosa

        peak = float(np.abs(wav).max())
        y = wav / peak if peak > 0 else wav
        mel = librosa.feature.melspectrogram(
            y=y,
            sr=SAMPLE_RATE,
            n_fft=2048,
            hop_length=1024,
            win_length=2048,
            n_mels=96,
            fmin=0.0,
            fmax=22050.0,
            htk=True,
            norm=1.0,
            power=2.0,
        )
        return (np.log10(mel * 10000.0 + 1.0) / SPEC_MAX).T.astype(np.float32)

    def features_at_rate(self, wav: np.ndarray) -> Features:
        x = torch.from_numpy(blocks(self.spectrogram(wav))).to(self.device)
        with torch.inference_mode():
            emb = self.model(x).cpu().numpy()
        return Features(embedding=emb.mean(0))
