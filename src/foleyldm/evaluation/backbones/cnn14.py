"""PANNs CNN14, 16 kHz variant: the FD / IS / KL backbone of published AudioLDM tables.

Kong et al. 2020 ("PANNs", qiuqiangkong/audioset_tagging_cnn, MIT code; the released
``Cnn14_16k_mAP=0.438.pth`` weights are CC BY 4.0 on Zenodo). Not downloaded here: pass the
official file (``--backbone-weights PATH``), read with ``weights_only=True``.

Front end as trained: 16 kHz, |STFT|² with n_fft 512, hop 160, periodic Hann, centred with
reflect padding (T = N // 160 + 1), 64 Slaney mel bands 50–8000 Hz (librosa's filterbank,
`foleyldm.audio.mel.mel_filterbank`), ``10·log10(max(x, 1e-10))``. The checkpoint's own
STFT kernels are not needed; its mel matrix, when present, is checked against ours so a
32 kHz checkpoint cannot be loaded by mistake.

Outputs per clip: ``embedding`` = the 2048-d ReLU(fc1) vector ("2048" in audioldm_eval),
``logits`` = the 527 pre-sigmoid AudioSet logits (IS uses their softmax, KL both).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from foleyldm.audio.mel import MelConfig, mel_filterbank
from foleyldm.evaluation.backbones.base import Backbone, BackboneError, Features, file_digest
from foleyldm.evaluation.backbones.weights import load_state_dict, load_strict

MEL = MelConfig(
    sample_rate=16000, n_fft=512, hop_length=160, win_length=512, n_mels=64, fmin=50.0, fmax=8000.0
)
NUM_CLASSES = 527
MIN_SAMPLES = 32 * 160  # shorter clips are zero-padded to 0.32 s


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """CNN14 with the official parameter names (front end computed, not stored).

    ``widths``: channels of the six conv blocks (the official model's by default; tests
    use narrow ones).
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048),
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError("CNN14 has six conv blocks")
        self.bn0 = nn.BatchNorm2d(MEL.n_mels)
        chans = (1, *widths)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(chans[i], chans[i + 1]))
        self.fc1 = nn.Linear(widths[-1], widths[-1])
        self.fc_audioset = nn.Linear(widths[-1], num_classes)

    @staticmethod
    def log_mel(wav: torch.Tensor) -> torch.Tensor:
        """[B, N] at 16 kHz -> [B, 1, T, 64] log-mel (dB)."""
        window = torch.hann_window(MEL.win_length, periodic=True, device=wav.device)
        spec = (
            torch.stft(
                wav,
                MEL.n_fft,
                MEL.hop_length,
                MEL.win_length,
                window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            ).abs()
            ** 2
        )
        mel = torch.matmul(mel_filterbank(MEL, wav.device), spec)  # [B, 64, T]
        return (10.0 * torch.log10(mel.clamp_min(1e-10))).transpose(1, 2)[:, None]

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, N] (16 kHz) -> (embedding [B, 2048], logits [B, 527])."""
        x = self.log_mel(wav)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, (2, 2) if i < 6 else (1, 1))
        x = x.mean(dim=3)
        x = x.amax(dim=2) + x.mean(dim=2)
        emb = F.relu(self.fc1(x))
        return emb, self.fc_audioset(emb)


class CNN14Backbone(Backbone):
    name = "cnn14"
    version = "1"
    sample_rate = 16000
    embed_dim = 2048

    def __init__(
        self,
        weights: str | os.PathLike[str] | None,
        device: str = "cpu",
        model: Cnn14 | None = None,
    ) -> None:
        """``weights``: the official file (None: random weights, for tests); ``model``: an
        architecture to load them into (default: the official CNN14)."""
        self.model = (model or Cnn14()).eval()
        self.embed_dim = self.model.fc1.out_features
        self._digest = ""
        if weights is not None:
            state = load_state_dict(weights, wrapper_keys=("model",))
            mel_w = state.get("logmel_extractor.melW")
            ours = mel_filterbank(MEL).T
            if mel_w is not None and (
                tuple(mel_w.shape) != tuple(ours.shape)
                or not torch.allclose(mel_w.float(), ours, atol=1e-5)
            ):
                raise BackboneError(f"{weights}: not the 16 kHz CNN14 (its mel filterbank differs)")
            load_strict(
                self.model,
                state,
                str(weights),
                ignore=("spectrogram_extractor.", "logmel_extractor."),
            )
            self._digest = file_digest(weights)
        self.model.to(device)
        self.device = device

    @property
    def weights_digest(self) -> str:
        return self._digest or "random"

    def features_at_rate(self, wav: np.ndarray) -> Features:
        x = torch.from_numpy(np.asarray(wav, np.float32))[None].to(self.device)
        if x.shape[1] < MIN_SAMPLES:  # five 2x poolings need 32 frames
            x = F.pad(x, (0, MIN_SAMPLES - x.shape[1]))
        with torch.inference_mode():
            emb, logits = self.model(x)
        return Features(embedding=emb[0].cpu().numpy(), logits=logits[0].cpu().numpy())
