"""Spectrogram images (PNG) for the CLI's ``--plot`` and the web studio."""

from __future__ import annotations

import os

import torch

from foleyldm.fileutil import atomic_open


def save_spectrogram_png(
    path: str | os.PathLike[str],
    log_mel: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    title: str | None = None,
) -> None:
    """Write a log-mel [T, M] as a PNG image (time left to right, low bins at the bottom).

    Written to a temporary name and renamed, so a failed write leaves nothing behind.
    Needs matplotlib (``pip install 'foleyldm[serve]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("--plot needs matplotlib: pip install matplotlib") from e

    mel = log_mel.detach().float().cpu().numpy()
    if mel.ndim != 2:
        raise ValueError(f"expected a log-mel [T, M], got shape {mel.shape}")
    seconds = mel.shape[0] * hop_length / sample_rate
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    img = ax.imshow(
        mel.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0.0, seconds, 0.0, float(mel.shape[1])),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel bin")
    if title:
        ax.set_title(title[:100])
    fig.colorbar(img, ax=ax, label="ln mel")
    fig.tight_layout()
    try:
        with atomic_open(path) as fh:
            fig.savefig(fh, format="png")
    finally:
        plt.close(fig)
