"""A run's logs: ``log.jsonl`` (one JSON row per logged step) and TensorBoard.

Only the main process writes. TensorBoard is optional (``pip install 'foleyldm[train]'``);
without it the JSONL log still has every number.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

LOG_FILE = "log.jsonl"


def spectrogram_image(mel: torch.Tensor) -> torch.Tensor:
    """Log-mel [T, M] -> image [1, M, T] in [0, 1], low bins at the bottom."""
    m = mel.detach().float().cpu().T.flip(0)
    lo, hi = m.min(), m.max()
    return ((m - lo) / (hi - lo).clamp(min=1e-6)).unsqueeze(0)


class RunLog:
    """Rows to ``RUN/log.jsonl`` and scalars/audio/images to ``RUN/tensorboard``."""

    def __init__(self, run_dir: Path, prefix: str, enabled: bool, tensorboard: bool) -> None:
        self.file = run_dir / LOG_FILE
        self.prefix = prefix
        self.enabled = enabled
        self._tensorboard = tensorboard and enabled
        self._writer: Any = None

    def start(self, resumed_at: int | None) -> list[dict[str, Any]]:
        """Open the log; on resume drop rows of steps after the checkpoint and return the rest."""
        if not self.enabled:
            return []
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if resumed_at is None or not self.file.exists():
            self.file.unlink(missing_ok=True)
            return []
        rows = [json.loads(x) for x in self.file.read_text().splitlines() if x.strip()]
        kept = [r for r in rows if r["step"] <= resumed_at]
        self.file.write_text("".join(json.dumps(r) + "\n" for r in kept))
        return [r for r in kept if "validation" not in r]

    def row(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.file, "a") as fh:
            fh.write(json.dumps(row) + "\n")

    def scalars(self, values: dict[str, float], step: int, tag: str = "") -> None:
        writer = self.writer()
        if writer is not None:
            for k, v in values.items():
                writer.add_scalar(f"{self.prefix}/{tag}{k}", v, step)

    def writer(self) -> Any:
        """The TensorBoard ``SummaryWriter`` (None when off, not main, or not installed)."""
        if self._writer is None and self._tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning("tensorboard is not installed: pip install 'foleyldm[train]'")
                self._tensorboard = False
                return None
            self._writer = SummaryWriter(str(self.file.parent / "tensorboard"))
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
