"""Stage ``vocoder``: HiFi-GAN (REFERENCE.md §5; Kong et al. 2020).

The generator is transformers' ``SpeechT5HifiGan`` (the AudioLDM vocoder); the
discriminators are written here: multi-period (waveform folded by periods 2, 3, 5, 7, 11,
2-D convolutions) and multi-scale (raw, 2x and 4x average-pooled waveform, grouped 1-D
convolutions). Per step, on random segments:

1. real mel m of the segment -> generator -> fake waveform y_hat;
2. discriminator step: least-squares GAN, sum over discriminators of
   mean((1 - D(y))^2) + mean(D(y_hat)^2);
3. generator step: 45 x |mel(y) - mel(y_hat)| (log-mels with a soft floor, `loss_mel`)
   + 2 x feature matching (L1 between the discriminators' feature maps of y and y_hat)
   + sum of mean((1 - D(y_hat))^2).

Before ``gan_start`` only the mel term trains the generator. Weight normalisation is not
used (the released vocoders ship with it removed), so checkpoints load into the same class.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from foleyldm.audio.mel import MelConfig, magnitude_spectrogram, mel_filterbank, mel_spectrogram
from foleyldm.models.presets import get_preset
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training.base import Batch, Trainer
from foleyldm.training.config import ConfigError, VocoderStage
from foleyldm.training.data import fixed_batches
from foleyldm.training.logs import spectrogram_image
from foleyldm.training.vae import no_param_grads

Features = list[torch.Tensor]


class PeriodDiscriminator(nn.Module):
    """Waveform [B, 1, N] folded to [B, 1, N / p, p]; (5 x 1) convolutions, stride 3."""

    def __init__(self, period: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        chans = [1, *channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, (5, 1), (3 if i < len(channels) - 1 else 1, 1), padding=(2, 0))
            for i, (a, b) in enumerate(pairwise(chans))
        )
        self.post = nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Features]:
        b, c, n = x.shape
        if n % self.period:
            x = F.pad(x, (0, self.period - n % self.period), mode="reflect")
        x = x.view(b, c, -1, self.period)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        x = self.post(x)
        feats.append(x)
        return x.flatten(1), feats


class ScaleDiscriminator(nn.Module):
    """Grouped 1-D convolutions on a waveform [B, 1, N] (kernel 15, then 41, then 5)."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        chans = [1, *channels]
        layers = []
        for i, (a, b) in enumerate(pairwise(chans)):
            first, last = i == 0, i == len(channels) - 1
            kernel = 15 if first else 5 if last else 41
            stride = 1 if first or last or i >= len(channels) - 2 else (2 if i < 3 else 4)
            groups = 1 if first or last else math.gcd(a, b, 16)
            layers.append(nn.Conv1d(a, b, kernel, stride, kernel // 2, groups=groups))
        self.convs = nn.ModuleList(layers)
        self.post = nn.Conv1d(chans[-1], 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Features]:
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        x = self.post(x)
        feats.append(x)
        return x.flatten(1), feats


class Discriminators(nn.Module):
    """Multi-period + multi-scale discriminators: waveform [B, N] -> logits and features."""

    def __init__(self, cfg: VocoderStage) -> None:
        super().__init__()
        self.discs = nn.ModuleList(
            [PeriodDiscriminator(p, cfg.mpd_channels) for p in cfg.periods]
            + [ScaleDiscriminator(cfg.msd_channels) for _ in range(cfg.msd_scales)]
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)
        self.num_periods = len(cfg.periods)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[Features]]:
        x = wav.unsqueeze(1)
        logits, feats = [], []
        for i, disc in enumerate(self.discs):
            if i > self.num_periods:  # each further scale sees a 2x pooled waveform
                x = self.pool(x)
            out, f = disc(x)
            logits.append(out)
            feats.append(f)
        return logits, feats


def loss_mel(wav: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """ln(mel + floor) [B, T, M]: the front end's log-mel with a soft floor.

    The front end clamps at the floor, which passes no gradient: an untrained generator's
    near-silent output would get none from the mel loss. Adding the floor keeps a gradient
    everywhere and equals the clamped log-mel wherever the signal is well above the floor.
    """
    spec = magnitude_spectrogram(wav, cfg)
    mel = torch.matmul(mel_filterbank(cfg, spec.device), spec)
    return torch.log(mel + cfg.log_floor).transpose(-1, -2)


def halves(outs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Split batch-concatenated [real; fake] outputs into the two halves."""
    pairs = [o.chunk(2) for o in outs]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def fresh_vocoder(preset: str, mel: MelConfig, seed: int) -> SpeechT5HifiGan:
    """A HiFi-GAN of ``preset``'s width for the mel front end ``mel`` (its bins and sample
    rate), with transformers' own initialisation (the global RNG is forked: the caller's
    random state is unchanged). Its hop is the preset's; `LatentCodec` checks it."""
    spec = {
        **get_preset(preset).vocoder,
        "model_in_dim": mel.n_mels,
        "sampling_rate": mel.sample_rate,
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpeechT5HifiGan(SpeechT5HifiGanConfig(**spec))


class VocoderTrainer(Trainer):
    stage = "vocoder"
    cfg: VocoderStage

    def build(self) -> None:
        cfg, pipe = self.cfg, self.pipe
        if cfg.grad_accum != 1:
            raise ConfigError("vocoder: grad_accum must be 1 (two optimisers per step)")
        self.mel_cfg = pipe.codec.mel
        vocoder = pipe.codec.vocoder
        if vocoder is None:
            # a Griffin-Lim-only init folder: a new HiFi-GAN, as wide as the run's preset
            # (``preset`` sizes this one part even though ``init`` is set), for the init's mel
            vocoder = fresh_vocoder(self.config.preset, self.mel_cfg, self.config.run.seed)
            try:  # the codec's own bins/hop check
                pipe.codec = pipe.codec.with_parts(vocoder=vocoder)
            except ValueError as e:
                raise ConfigError(
                    f"vocoder: the init has no HiFi-GAN and preset {self.config.preset!r}'s "
                    f"does not fit its mel front end: {e}"
                ) from None
        self.gen = self.add_model("vocoder", vocoder)
        self.add_optimizer("vocoder", vocoder.parameters(), cfg.optim)
        disc = Discriminators(cfg)
        self.disc = self.add_model("disc", disc)
        self.add_optimizer("disc", disc.parameters(), cfg.optim)

    def synthesize(self, wav: torch.Tensor, model: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, N] -> (real log-mel [B, T, M], generated waveform [B, T * hop])."""
        mel = mel_spectrogram(wav, self.mel_cfg)
        fake = (model or self.gen)(mel)
        return mel, fake[:, : mel.shape[1] * self.mel_cfg.hop_length].float()

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        wav = batches[0]["wav"]
        _, fake = self.synthesize(wav)
        real = wav[:, : fake.shape[1]]
        gan_on = self.step >= cfg.gan_start
        logs: dict[str, torch.Tensor] = {}
        if gan_on:  # discriminator step on the detached fake
            outs, _ = self.disc(torch.cat([real, fake.detach()]))
            d_real, d_fake = halves(outs)
            d_loss = sum(
                ((1 - r.float()) ** 2).mean() + (f.float() ** 2).mean()
                for r, f in zip(d_real, d_fake, strict=True)
            )
            assert isinstance(d_loss, torch.Tensor)
            self.accelerator.backward(d_loss)
            logs["d_loss"] = self.optimizer_step("disc", d_loss)
        mel_l1 = (loss_mel(fake, self.mel_cfg) - loss_mel(real, self.mel_cfg)).abs().mean()
        loss = cfg.mel_weight * mel_l1
        logs["mel_l1"] = mel_l1.detach()
        if gan_on:
            with no_param_grads(self.unwrap(self.disc)) as disc:
                outs, feats = disc(torch.cat([real, fake]))
            _, g_fake = halves(outs)
            adv = sum(((1 - f.float()) ** 2).mean() for f in g_fake)
            fm = sum(
                (r.detach().float() - g.float()).abs().mean()
                for layer in feats
                for r, g in (x.chunk(2) for x in layer)
            )
            assert isinstance(adv, torch.Tensor) and isinstance(fm, torch.Tensor)
            loss = loss + adv + cfg.fm_weight * fm
            logs.update(g_adv=adv.detach(), fm=fm.detach())
        self.accelerator.backward(loss)
        logs["loss"] = self.optimizer_step("vocoder", loss)
        return logs

    # ---- validation, samples, export -------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mel L1 of the resynthesised validation clips."""
        data = self.val_dataset()
        if data is None:
            return {}
        gen, errors = self.unwrap(self.gen).eval(), []
        for batch in fixed_batches(data, self.cfg.batch_size):
            mel, fake = self.synthesize(batch["wav"].to(self.device), gen)
            errors.append((mel_spectrogram(fake, self.mel_cfg) - mel).abs().mean().cpu())
        gen.train()
        return {"mel_l1": float(torch.stack(errors).mean())}

    @torch.no_grad()
    def write_samples(self, writer: Any) -> None:
        data = self.val_dataset()
        if data is None:
            return
        wav = data[0]["waveform"][None].to(self.device)
        gen = self.unwrap(self.gen).eval()
        _, fake = self.synthesize(wav, gen)
        gen.train()
        writer.add_audio(f"{self.stage}/resynthesis", fake[0].cpu(), self.step, self.sample_rate)
        mel = mel_spectrogram(fake[0], self.mel_cfg)
        writer.add_image(f"{self.stage}/resynthesis_mel", spectrogram_image(mel), self.step)

    def export_pipeline(self) -> TextToAudioPipeline:
        pipe = self.pipe
        vocoder = self.export_model("vocoder").eval()
        codec = pipe.codec.with_parts(vocoder=vocoder)  # type: ignore[arg-type]
        codec.vocoder_mode = "hifigan"  # the network this stage trained is the one to hear
        return TextToAudioPipeline(
            pipe.unet, codec, pipe.clap, pipe.scheduler_config, pipe.defaults, name=pipe.name
        )
