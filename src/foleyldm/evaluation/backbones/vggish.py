"""VGGish (128-d), the FAD backbone: FD over per-frame embeddings of 0.96 s examples.

Hershey et al. 2017 (tensorflow/models research/audioset/vggish, Apache-2.0); the PyTorch
port with the same weights is harritaylor/torchvggish (``vggish-10086976.pth``; its
parameter names are used here). Not downloaded: pass the file (``--backbone-weights PATH``),
read with ``weights_only=True``. As in audioldm_eval's FAD: no PCA/quantisation
post-processing and the last ReLU removed (embeddings can be negative).

Front end (`tf_frontend`): 16 kHz, 25 ms / 10 ms frames, 64 HTK mel bands 125–7500 Hz,
``log(mel + 0.01)``, non-overlapping examples of 96 frames (0.96 s; the incomplete tail is
dropped, a clip shorter than one example is zero-padded to one).

Outputs per clip: ``frames`` [F, 128] (what FAD pools), ``embedding`` = their mean.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from foleyldm.evaluation.backbones import tf_frontend
from foleyldm.evaluation.backbones.base import Backbone, Features, file_digest
from foleyldm.evaluation.backbones.weights import load_state_dict, load_strict

LOG_OFFSET = 0.01
EXAMPLE_SAMPLES = tf_frontend.WINDOW + (tf_frontend.PATCH_FRAMES - 1) * tf_frontend.HOP


class VGGish(nn.Module):
    """VGGish with torchvggish's parameter names; ``embeddings`` ends without ReLU.

    ``channels`` / ``hidden`` / ``embed``: sizes (the official model's by default).
    """

    def __init__(
        self,
        channels: tuple[int, int, int, int] = (64, 128, 256, 512),
        hidden: int = 4096,
        embed: int = 128,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        c1, c2, c3, c4 = channels
        for block in ([c1], [c2], [c3, c3], [c4, c4]):
            for cout in block:
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
                cin = cout
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(c4 * 4 * 6, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, embed),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel examples [N, 1, 96, 64] -> embeddings [N, 128]."""
        x = self.features(x)  # [N, C, 6, 4]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF's NHWC flattening order
        return self.embeddings(x)


class VGGishBackbone(Backbone):
    name = "vggish"
    version = "1"
    sample_rate = 16000
    embed_dim = 128
    frame_level_fd = True

    def __init__(
        self,
        weights: str | os.PathLike[str] | None,
        device: str = "cpu",
        model: VGGish | None = None,
    ) -> None:
        """``weights``: the torchvggish file (None: random weights, for tests); ``model``: an
        architecture to load them into (default: the official VGGish)."""
        self.model = (model or VGGish()).eval()
        self.embed_dim = embed_size(self.model)
        self._digest = ""
        if weights is not None:
            state = load_state_dict(weights)
            # torchvggish's file still holds the final ReLU-less Linear as embeddings.4
            load_strict(self.model, state, str(weights))
            self._digest = file_digest(weights)
        self.model.to(device)
        self.device = device

    @property
    def weights_digest(self) -> str:
        return self._digest or "random"

    def examples(self, wav: np.ndarray) -> np.ndarray:
        """Log-mel examples [F, 96, 64] of a 16 kHz clip."""
        wav = np.asarray(wav, np.float32)
        if wav.shape[0] < EXAMPLE_SAMPLES:
            wav = np.pad(wav, (0, EXAMPLE_SAMPLES - wav.shape[0]))
        mel = tf_frontend.log_mel(wav, LOG_OFFSET)
        return tf_frontend.patches(mel, tf_frontend.PATCH_FRAMES)

    def features_at_rate(self, wav: np.ndarray) -> Features:
        x = torch.from_numpy(self.examples(wav))[:, None].to(self.device)
        with torch.inference_mode():
            frames = self.model(x).cpu().numpy()
        return Features(embedding=frames.mean(0), frames=frames)


def embed_size(model: VGGish) -> int:
    last = model.embeddings[-1]
    assert isinstance(last, nn.Linear)
    return last.out_features
