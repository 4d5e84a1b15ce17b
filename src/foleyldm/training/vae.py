"""Stage ``vae``: the KL-regularised mel autoencoder (REFERENCE.md §5).

Per step:

1. waveform -> log-mel x [B, 1, T, M]; encode to the posterior N(mu, sigma^2), sample z with
   each clip's own noise, decode to x_hat;
2. autoencoder loss = mean |x - x_hat| + kl_weight * mean KL(N(mu, sigma^2) || N(0, I)),
   plus, from ``disc_start`` on, the PatchGAN generator loss -D(x_hat) with the adaptive
   weight of taming-transformers / the LDM code: ||grad rec|| / ||grad gan|| at the
   decoder's last layer, times ``disc_weight``;
3. from ``disc_start`` on, a PatchGAN discriminator step with the hinge loss.

Two Adam optimisers (betas 0.5, 0.9). ``compression`` 4, 8 or 16 builds a VAE with 3, 4
or 5 levels (the paper's ablation). ``train_encoder: false`` fine-tunes the decoder alone
(the latent space, and a UNet trained on it, stay valid). Export stores the latent scale
factor 1/std of the first validation batch's latents (the LDM stage may measure it again on
its first batch); a decoder fine-tune keeps the stored one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from diffusers import AutoencoderKL
from torch import nn
from torch.nn import functional as F

from foleyldm.audio.mel import mel_spectrogram
from foleyldm.models.presets import vae_config
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training.base import Batch, Trainer
from foleyldm.training.config import ConfigError, VAEStage
from foleyldm.training.data import clip_dataset, fixed_batches, generators, per_sample
from foleyldm.training.logs import spectrogram_image

#: A log-mel bin has sound when its magnitude is this many dB above the floor (validation).
ACTIVE_DB = 30.0


def sound_mask(mel: torch.Tensor, log_floor: float) -> torch.Tensor:
    """Bins of a log-mel (``ln`` of magnitude, any shape) at least ``ACTIVE_DB`` above the
    floor ``ln(log_floor)``: a bool tensor of the same shape."""
    return mel > math.log(log_floor) + ACTIVE_DB / 20 * math.log(10)


class Autoencoder(nn.Module):
    """One forward for DDP: log-mel + posterior noise -> (reconstruction, mean, log-variance)."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, mel: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dist = self.vae.encode(mel).latent_dist
        rec = self.vae.decode(dist.mean + dist.std * eps).sample
        return rec, dist.mean, dist.logvar


def patch_discriminator(channels: int = 64, layers: int = 3) -> nn.Sequential:
    """pix2pix / taming ``NLayerDiscriminator`` on log-mels: [B, 1, T, M] -> patch logits."""
    seq: list[nn.Module] = [nn.Conv2d(1, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, layers + 1):
        prev, mult = mult, min(2**n, 8)
        stride = 2 if n < layers else 1
        seq += [
            nn.Conv2d(channels * prev, channels * mult, 4, stride, 1, bias=False),
            nn.BatchNorm2d(channels * mult),
            nn.LeakyReLU(0.2),
        ]
    seq.append(nn.Conv2d(channels * mult, 1, 4, 1, 1))
    net = nn.Sequential(*seq)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


@contextlib.contextmanager
def no_param_grads(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` passes gradients to its input but computes none for its own weights."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def resized_vae(vae: AutoencoderKL, compression: int, seed: int) -> AutoencoderKL:
    """``vae`` if it already compresses by ``compression``, else a new one with that many levels."""
    levels = int(math.log2(compression)) + 1
    channels = list(vae.config.block_out_channels)
    if len(channels) == levels:
        return vae
    channels = (channels + [channels[-1]] * levels)[:levels]
    kwargs = vae_config(
        tuple(channels),
        layers_per_block=vae.config.layers_per_block,
        latent_channels=vae.config.latent_channels,
        scaling_factor=vae.config.scaling_factor,
        sample_size=vae.config.sample_size,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKL(**kwargs)


def widened_vae(vae: AutoencoderKL, channels: int, seed: int) -> AutoencoderKL:
    """``vae`` with ``channels`` latent channels (more than it has), decoding exactly as before.

    The old channels keep their weights; the new ones get small random encoder weights, a
    low posterior variance (log-variance bias -4) and zero weights into the decoder, so a
    trained VAE can grow its latent without starting over (foley-small's card: 8 -> 16
    channels, 900 steps, lifted the barks passing through the codec from 6 to 12 of 26).
    """
    old = int(vae.config.latent_channels)
    if channels == old:
        return vae
    if channels < old:
        raise ConfigError(f"vae.latent_channels {channels} < the model's {old}: only widening")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = AutoencoderKL.from_config(vae.config, latent_channels=channels)
    # moments = [mean (C), log-variance (C)]: where each old row/column goes in the new layout
    moments = [*range(old), *range(channels, channels + old)]
    fresh = [i for i in range(2 * channels) if i not in moments]
    state = new.state_dict()
    for key, src in vae.state_dict().items():
        dst = state[key]
        if src.shape == dst.shape:
            state[key] = src.clone()
        elif key.startswith("encoder.conv_out"):  # [2C, in, 3, 3] / [2C]
            dst = dst * 0.1
            dst[moments] = src
            if key.endswith("bias"):
                dst[channels + old :] = -4.0
            state[key] = dst
        elif key.startswith("quant_conv"):  # 1x1 mixing of the moments
            dst = torch.zeros_like(dst)
            if key.endswith("weight"):
                dst[[[i] for i in moments], moments] = src[..., 0, 0][..., None, None]
                dst[fresh, fresh] = 1.0
            else:
                dst[moments] = src
                dst[channels + old :] = -4.0
            state[key] = dst
        elif key.startswith("post_quant_conv"):  # [C, C, 1, 1] / [C]
            dst = torch.zeros_like(dst)
            if key.endswith("weight"):
                dst[:old, :old] = src
                dst[range(old, channels), range(old, channels)] = 1.0
            else:
                dst[:old] = src
            state[key] = dst
        elif key == "decoder.conv_in.weight":  # [out, C, 3, 3]: new inputs silent
            dst = torch.zeros_like(dst)
            dst[:, :old] = src
            state[key] = dst
        else:
            raise ConfigError(f"widening the VAE: unexpected change of {key}")
    new.load_state_dict(state)
    return new


class VAETrainer(Trainer):
    stage = "vae"
    cfg: VAEStage

    def build(self) -> None:
        cfg, pipe = self.cfg, self.pipe
        if cfg.grad_accum != 1:
            raise ConfigError("vae: grad_accum must be 1 (two optimisers per step)")
        vae = pipe.codec.vae
        if cfg.compression is not None:
            vae = resized_vae(vae, cfg.compression, self.config.run.seed)
        if cfg.latent_channels is not None:
            vae = widened_vae(vae, cfg.latent_channels, self.config.run.seed)
        self.vae_model = vae
        if not cfg.train_encoder:
            # Meant for a trained encoder (a model folder, or --resume of a VAE run).
            # Frozen parameters get no gradient, so AdamW skips them (its state for them, if
            # resumed, stays as it was) and the encoder's backward is never built.
            for part in (vae.encoder, getattr(vae, "quant_conv", None)):
                if part is not None:
                    part.requires_grad_(False)
        self.ae = self.add_model("vae", Autoencoder(vae))
        self.add_optimizer("vae", vae.parameters(), cfg.optim, frozen_too=True)
        disc = patch_discriminator(cfg.disc_channels, cfg.disc_layers)
        self.disc = self.add_model("disc", disc)
        self.add_optimizer("disc", disc.parameters(), cfg.optim)
        self.compression = 2 ** (len(vae.config.block_out_channels) - 1)

    def mel(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, N] -> log-mel [B, 1, T, M], T cropped to a multiple of the compression."""
        mel = mel_spectrogram(wav, self.pipe.codec.mel)
        usable = mel.shape[1] - mel.shape[1] % self.compression
        if usable == 0:
            raise ConfigError(f"vae: segments shorter than {self.compression} mel frames")
        return mel[:, None, :usable]

    def latent_shape(self, mel: torch.Tensor) -> tuple[int, int, int]:
        c = int(self.vae_model.config.latent_channels)
        return (c, mel.shape[2] // self.compression, mel.shape[3] // self.compression)

    def adaptive_weight(self, rec: torch.Tensor, gan: torch.Tensor) -> torch.Tensor:
        last = self.vae_model.decoder.conv_out.weight
        g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
        g_gan = torch.autograd.grad(gan, last, retain_graph=True)[0]
        weight = g_rec.norm() / (g_gan.norm() + 1e-4)
        return weight.clamp(0.0, 1e4).detach() * self.cfg.disc_weight

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        cfg, batch = self.cfg, batches[0]
        mel = self.mel(batch["wav"])
        eps = per_sample(generators(batch["seed"]), "randn", self.latent_shape(mel))
        rec, mean, logvar = self.ae(mel, eps.to(self.device))
        rec, mean, logvar = rec.float(), mean.float(), logvar.float()
        rec_loss = (rec - mel).abs().mean()
        if cfg.detail_weight:
            # L1 of the differences along frequency and time: a smooth reconstruction of
            # harmonic stripes scores well on plain L1 but badly here
            rec_loss = rec_loss + cfg.detail_weight * (
                (rec.diff(dim=3) - mel.diff(dim=3)).abs().mean()
                + (rec.diff(dim=2) - mel.diff(dim=2)).abs().mean()
            )
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        loss = rec_loss + cfg.kl_weight * kl
        logs = {"rec": rec_loss.detach(), "kl": kl.detach()}
        gan_on = self.step >= cfg.disc_start
        if gan_on:
            with no_param_grads(self.unwrap(self.disc)) as disc:
                g_loss = -disc(rec).float().mean()
            weight = self.adaptive_weight(rec_loss, g_loss)
            loss = loss + weight * g_loss
            logs.update(g_loss=g_loss.detach(), d_weight=weight)
        self.accelerator.backward(loss)
        logs["loss"] = self.optimizer_step("vae", loss)
        if gan_on:
            real, fake = self.disc(mel).float(), self.disc(rec.detach()).float()
            d_loss = 0.5 * (F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean())
            self.accelerator.backward(d_loss)
            logs["d_loss"] = self.optimizer_step("disc", d_loss)
        return logs

    # ---- validation, samples, export -------------------------------------------------------
    def _val_batches(self) -> Iterator[Batch]:
        data = self.val_dataset()
        if data is None:  # no validation split: fixed crops of training clips
            records = self.records(self.config.data.train_split)
            seconds, sr = self.cfg.segment_seconds, self.sample_rate
            data = clip_dataset(records, seconds, sr, self.config.run.seed, train=False)
        for batch in fixed_batches(data, self.cfg.batch_size):
            batch["wav"] = batch["wav"].to(self.device)
            yield batch

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """L1 of the posterior-mean reconstruction on the validation clips: over every bin
        (``rec_l1``) and over the bins with sound, at least ``ACTIVE_DB`` above the log-mel
        floor (``rec_l1_active``).

        Most validation bins are padding or quiet tails at the floor, so ``rec_l1`` follows how
        well the decoder draws silence; a VAE whose encoder learns more detail can score
        worse on it while the sounds themselves come back better (issue 9: the encoder phase
        took the active L1 from 0.550 to 0.518 while ``rec_l1`` rose).
        """
        vae = self.vae_model.eval()
        total = active = 0.0
        bins = active_bins = 0
        for batch in self._val_batches():
            mel = self.mel(batch["wav"])
            err = (vae.decode(vae.encode(mel).latent_dist.mean).sample.float() - mel).abs()
            loud = sound_mask(mel, self.pipe.codec.mel.log_floor)
            total, bins = total + float(err.sum()), bins + err.numel()
            active, active_bins = active + float(err[loud].sum()), active_bins + int(loud.sum())
        self.vae_model.train()
        if not bins:
            return {}
        out = {"rec_l1": total / bins}
        if active_bins:
            out["rec_l1_active"] = active / active_bins
        return out

    @torch.no_grad()
    def write_samples(self, writer: Any) -> None:
        batch = next(self._val_batches())
        mel = self.mel(batch["wav"][:1])
        vae = self.vae_model.eval()
        rec = vae.decode(vae.encode(mel).latent_dist.mean).sample.float()
        self.vae_model.train()
        writer.add_image(f"{self.stage}/mel", spectrogram_image(mel[0, 0]), self.step)
        writer.add_image(f"{self.stage}/reconstruction", spectrogram_image(rec[0, 0]), self.step)
        wav = self.pipe.codec.vocode(rec).cpu()  # the model's own vocoder choice
        writer.add_audio(f"{self.stage}/reconstruction", wav[0], self.step, self.sample_rate)

    @torch.no_grad()
    def latent_scale(self) -> float:
        """1 / std of the posterior samples of the first validation batch."""
        batch = next(self._val_batches())
        mel = self.mel(batch["wav"])
        dist = self.vae_model.eval().encode(mel).latent_dist
        eps = per_sample(generators(batch["seed"]), "randn", dist.mean.shape[1:])
        z = dist.mean + dist.std * eps.to(self.device)
        return 1.0 / max(float(z.float().std()), 1e-6)

    def export_pipeline(self) -> TextToAudioPipeline:
        vae = self.vae_model
        if self.cfg.train_encoder:  # a decoder fine-tune keeps the latent space and its scale
            vae.register_to_config(scaling_factor=self.latent_scale())
        pipe = self.pipe
        codec = pipe.codec.with_parts(vae=vae.eval())  # the init's vocoder choice kept
        return TextToAudioPipeline(
            pipe.unet, codec, pipe.clap, pipe.scheduler_config, pipe.defaults, name=pipe.name
        )
