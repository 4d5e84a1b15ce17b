"""Stage ``clap``: contrastive audio-text training of the dual-encoder CLAP (REFERENCE.md §5).

Per step, for a batch of (clip, caption) pairs:

1. a = audio tower(clip), t = text tower(caption), both projected and L2-normalised;
2. logits = exp(s) * a t^T with the learned temperature s (clamped to exp(s) <= 100);
3. loss = (CE(logits, diag) + CE(logits^T, diag)) / 2 (symmetric InfoNCE).

With several processes the embeddings are all-gathered with gradients, so every process
contrasts against the whole global batch, as one process would. The MiniLM text tower is
frozen by default (its projection trains); ``train_text`` fine-tunes it too. Validation
reports text->audio and audio->text recall@K on the validation split.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn
from torch.nn import functional as F

from foleyldm.models.clap.dual import DualEncoderCLAP
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training.base import Batch, Trainer
from foleyldm.training.config import ClapStage, ConfigError
from foleyldm.training.data import fixed_batches

MAX_LOGIT_SCALE = math.log(100.0)


class AudioTextPair(nn.Module):
    """One forward for DDP: (waveforms [B, N], captions) -> (audio [B, D], text [B, D], s)."""

    def __init__(self, clap: DualEncoderCLAP, sample_rate: int) -> None:
        super().__init__()
        self.clap = clap
        self.sample_rate = sample_rate

    def forward(
        self, wav: torch.Tensor, captions: list[str]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        audio = self.clap.encode_audio(wav, self.sample_rate)
        text = self.clap.encode_text(captions)
        return audio, text, self.clap.logit_scale


def gather(x: torch.Tensor) -> torch.Tensor:
    """All processes' rows in rank order, with gradients flowing back to each process."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x))


def recall_at(sim: torch.Tensor, ks: tuple[int, ...]) -> dict[int, float]:
    """Fraction of rows whose diagonal entry is among the row's top k, for each k."""
    rank = (sim > sim.diagonal()[:, None]).sum(dim=1)
    return {k: float((rank < k).float().mean()) for k in ks}


class ClapTrainer(Trainer):
    stage = "clap"
    needs_text = True
    cfg: ClapStage

    def build(self) -> None:
        clap = self.pipe.clap
        if not isinstance(clap, DualEncoderCLAP):
            raise ConfigError("clap: training needs the dual-encoder CLAP (backend 'dual')")
        if self.cfg.train_text and clap.config.freeze_text:
            tuned = DualEncoderCLAP(dataclasses.replace(clap.config, freeze_text=False))
            tuned.load_state_dict(clap.state_dict())
            clap = self.pipe.clap = tuned
        self.clap = clap
        self.model = self.add_model("clap", AudioTextPair(clap, self.sample_rate))
        self.add_optimizer("clap", clap.parameters(), self.cfg.optim)

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        n = len(batches)
        total = torch.zeros(())
        for i, batch in enumerate(batches):
            with self.accumulating("clap", i, n):
                audio, text, scale = self.model(batch["wav"], batch["captions"])
                audio, text = gather(audio.float()), gather(text.float())
                logits = scale.exp() * audio @ text.T
                target = torch.arange(len(logits), device=logits.device)
                loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
                self.accelerator.backward(loss / n)
            total = total + loss.detach().cpu() / n
        self.optimizer_step("clap", total)
        with torch.no_grad():
            self.clap.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
        return {"loss": total, "temperature": 1.0 / self.clap.logit_scale.detach().exp().cpu()}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """InfoNCE loss and text->audio / audio->text recall@K on the validation split."""
        data = self.val_dataset()
        if data is None or len(data) < 2:
            return {}
        self.clap.eval()
        audio, text = [], []
        for batch in fixed_batches(data, self.cfg.batch_size):
            audio.append(self.clap.encode_audio(batch["wav"].to(self.device), self.sample_rate))
            text.append(self.clap.encode_text(batch["captions"]))
        self.clap.train()
        sim = torch.cat(text) @ torch.cat(audio).T
        logits = self.clap.logit_scale.exp() * sim
        target = torch.arange(len(sim), device=sim.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        metrics = {"loss": float(loss)}
        for k, r in recall_at(sim, self.cfg.recall_at).items():
            metrics[f"t2a_r{k}"] = r
        for k, r in recall_at(sim.T, self.cfg.recall_at).items():
            metrics[f"a2t_r{k}"] = r
        return metrics

    def export_pipeline(self) -> TextToAudioPipeline:
        pipe = self.pipe
        clap = self.clap.eval()
        return TextToAudioPipeline(
            pipe.unet, pipe.codec, clap, pipe.scheduler_config, pipe.defaults, name=pipe.name
        )
