"""Stage ``ldm``: the latent diffusion UNet (REFERENCE.md §5).

Per step, for each clip of the batch:

1. waveform -> log-mel -> frozen VAE posterior sample -> latent z (times the scale factor,
   1/std(z) of the first global batch unless already set);
2. condition c: the clip's own CLAP *audio* embedding (self-supervised, the default), a
   caption's CLAP *text* embedding, or text with probability ``text_probability``; with
   probability ``cond_dropout`` replaced by CLAP("") (the unconditional embedding that
   inference uses for classifier-free guidance);
3. t ~ U{0..999}, noise e ~ N(0, I), z_t = sqrt(a_t) z + sqrt(1 - a_t) e;
4. loss = MSE(UNet(z_t, t, c), e) (or the velocity for v-prediction).

AdamW with linear warm-up; EMA of the weights (what export ships). Every random draw of
a sample comes from its own seed (`foleyldm.training.data`), so the result does not depend
on how the batch is split over processes.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from diffusers import DDPMScheduler
from torch.nn import functional as F

from foleyldm.audio.mel import mel_spectrogram
from foleyldm.data.cache import EncoderCache
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from foleyldm.training.base import Batch, Trainer
from foleyldm.training.config import ConfigError, LDMStage
from foleyldm.training.data import ItemDataset, fixed_batches, generators, per_sample
from foleyldm.training.latents import (
    LatentDataset,
    LatentEncoder,
    cache_fingerprint,
    collate_latents,
    latent_frames,
)
from foleyldm.training.logs import spectrogram_image
from foleyldm.training.runtime import is_preset

log = logging.getLogger(__name__)
_TEXT_CACHE_SIZE = 50_000


def widened_unet(unet: Any, channels: int) -> Any:
    """``unet`` (a ``UNet2DConditionModel``) taking and predicting ``channels`` latent channels
    (at least its own): the old channels keep their weights, the new inputs start ignored
    and the new outputs at zero. For a UNet carried over to a widened VAE
    (`foleyldm.training.vae.widened_vae`), so the old channels' denoising is kept."""
    old = int(unet.config.in_channels)
    if channels == old and int(unet.config.out_channels) == old:
        return unet
    if channels < old:
        raise ConfigError(f"ldm: the VAE has {channels} latent channels, the UNet {old}")
    new = type(unet).from_config(unet.config, in_channels=channels, out_channels=channels)
    state = new.state_dict()
    for key, src in unet.state_dict().items():
        if src.shape == state[key].shape:
            state[key] = src.clone()
            continue
        dst = torch.zeros_like(state[key])
        if key == "conv_in.weight":  # [out, C, 3, 3]
            dst[:, :old] = src
        elif key.startswith("conv_out."):  # [C, in, 3, 3] / [C]
            dst[:old] = src
        else:
            raise ConfigError(f"widening the UNet: unexpected change of {key}")
        state[key] = dst
    new.load_state_dict(state)
    return new.to(unet.dtype)


class LDMTrainer(Trainer):
    stage = "ldm"
    cfg: LDMStage

    def build(self) -> None:
        cfg, pipe = self.cfg, self.pipe
        if pipe.clap is None:
            raise ConfigError("ldm: the starting model has no CLAP to condition on")
        if cfg.conditioning != "text" and not pipe.clap.can_encode_audio:
            raise ConfigError("ldm: audio conditioning needs a CLAP audio tower")
        self.vae = self.frozen(pipe.codec.vae)
        self.clap = self.frozen(pipe.clap)
        self.scheduler_config = {**pipe.scheduler_config, "prediction_type": cfg.prediction}
        self.noise = DDPMScheduler.from_config(self.scheduler_config)
        self.timesteps = int(self.noise.config.num_train_timesteps)
        if not 0 <= cfg.min_timestep < self.timesteps:
            raise ConfigError(
                f"ldm.min_timestep must be in [0, {self.timesteps}), got {cfg.min_timestep}"
            )
        # a UNet carried over to a VAE with more latent channels grows to match
        pipe.unet = widened_unet(pipe.unet, pipe.codec.latent_channels)
        unet_down = 2 ** (len(pipe.unet.config.block_out_channels) - 1)
        self.frame_multiple = pipe.codec.compression * unet_down
        self.unet = self.add_model("unet", pipe.unet)
        self.add_optimizer("unet", pipe.unet.parameters(), cfg.optim)
        self.ema = self.add_ema("unet", cfg.ema_decay)
        self.scale = self._initial_scale()
        self._texts: dict[str, torch.Tensor] = {}

    def _initial_scale(self) -> float | None:
        """The latent scale factor, or None to measure it on the first batch."""
        sf, stored = self.cfg.scale_factor, float(self.vae.config.scaling_factor)
        if isinstance(sf, float):
            return sf
        if sf is None:  # keep the stored factor when fine-tuning a model folder
            init = self.config.init
            sf = "keep" if init is not None and not is_preset(init) else "auto"
        return stored if sf == "keep" else None

    def extra_state(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.scale = state.get("scale")
        if self.scale is not None:
            self.vae.register_to_config(scaling_factor=self.scale)

    # ---- inputs -------------------------------------------------------------------------
    def train_dataset(self) -> ItemDataset:
        """Waveform crops, or with ``cache_latents`` random crops of cached latents."""
        if not self.cfg.cache_latents:
            return super().train_dataset()
        self.collate_fn = collate_latents
        cfg, codec = self.cfg, self.pipe.codec
        root = cfg.cache_dir or self.run_dir / "latent-cache"
        cache = EncoderCache(root, "ldm-latents", cache_fingerprint(self.vae, self.clap, codec.mel))
        encoder = LatentEncoder(
            self.vae,
            self.clap,
            codec.mel,
            self.sample_rate,
            self.frame_multiple,
            cfg.segment_seconds,
            max(cfg.cache_max_seconds, cfg.segment_seconds),
            cache,
            self.autocast,
        )
        records = self.train_records()
        unique = list({r.path: r for r in records}.values())  # repeat_threshold repeats clips
        if self.is_main:
            done, bad = encoder.fill(unique)
            self._corrupt |= set(bad)
            log.info("ldm: encoded %d clips (%d unreadable) into %s", done, len(bad), cache.dir)
        self.accelerator.wait_for_everyone()
        loaded, loaded_entries = encoder.load(unique)  # unreadable clips are left out
        by_path = {r.path: e for r, e in zip(loaded, loaded_entries, strict=True)}
        kept = [r for r in records if r.path in by_path]
        entries = [by_path[r.path] for r in kept]
        frames = latent_frames(
            cfg.segment_seconds, codec.mel, self.frame_multiple, codec.compression
        )
        # Leading latent frames that hold each clip (the rest encodes its zero padding).
        per_second = codec.mel.sample_rate / codec.mel.hop_length / codec.compression
        content = [math.ceil(r.duration * per_second) for r in kept]
        return LatentDataset(
            kept,
            entries,
            frames,
            self.config.run.seed,
            content_frames=content,
            loop_probability=cfg.loop_probability,
            loop_gap_frames=round(cfg.loop_gap_seconds * per_second),
        )

    @torch.no_grad()
    def text_embeddings(self, texts: list[str]) -> torch.Tensor:
        """CLAP text embeddings [B, D], cached (the CLAP is frozen).

        Each text is encoded on its own, so its embedding does not depend on what else was
        in the batch (padding): a resumed or multi-process run gets the same bits.
        """
        new = sorted({t for t in texts if t not in self._texts})
        if len(self._texts) + len(new) > _TEXT_CACHE_SIZE:
            self._texts.clear()
        for text in new:
            self._texts[text] = self.clap.encode_text([text])[0]
        return torch.stack([self._texts[t] for t in texts]).to(self.device)

    @torch.no_grad()
    def latents(self, wav: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
        """Waveforms [B, N] -> unscaled posterior samples [B, C, T', F'] (float32)."""
        mel = mel_spectrogram(wav, self.pipe.codec.mel)
        usable = mel.shape[1] - mel.shape[1] % self.frame_multiple
        if usable == 0:
            raise ConfigError(f"ldm: segments shorter than {self.frame_multiple} mel frames")
        with self.autocast():
            dist = self.vae.encode(mel[:, None, :usable]).latent_dist
        eps = per_sample(gens, "randn", dist.mean.shape[1:]).to(self.device)
        return (dist.mean.float() + dist.std.float() * eps).float()

    @torch.no_grad()
    def conditions(self, batch: Batch, u_text: torch.Tensor, u_drop: torch.Tensor) -> torch.Tensor:
        """FiLM conditions [B, D]: audio or text CLAP embeddings, some dropped to CLAP("")."""
        cfg, captions = self.cfg, batch["captions"]
        has_text = torch.tensor([bool(c) for c in captions])
        if cfg.conditioning == "audio":
            use_text = torch.zeros_like(has_text)
        elif cfg.conditioning == "text":
            use_text = torch.ones_like(has_text)
        else:
            use_text = has_text & (u_text < cfg.text_probability)
        drop = u_drop < cfg.cond_dropout
        cond = self.text_embeddings([""] * len(captions))
        audio_rows = (~use_text & ~drop).to(self.device)
        if audio_rows.any() and "clap_audio" in batch:  # cached with the latents
            cond[audio_rows] = batch["clap_audio"][audio_rows].float()
        elif audio_rows.any():
            with self.autocast():
                emb = self.clap.encode_audio(batch["wav"][audio_rows], self.sample_rate)
            cond[audio_rows] = emb.float()
        text_rows = use_text & ~drop
        if text_rows.any():
            chosen = [c for c, keep in zip(captions, text_rows.tolist(), strict=True) if keep]
            cond[text_rows.to(self.device)] = self.text_embeddings(chosen)
        return cond

    def batch_latents(self, batch: Batch, gens: list[torch.Generator]) -> torch.Tensor:
        """Unscaled posterior samples of a batch [B, C, T', F']: from the cached posterior
        (the same draw as `latents` makes) or by encoding the waveforms."""
        if "z_mean" in batch:
            eps = per_sample(gens, "randn", batch["z_mean"].shape[1:]).to(self.device)
            return (batch["z_mean"] + batch["z_std"] * eps).float()
        return self.latents(batch["wav"], gens)

    def _measure_scale(self, batches: list[Batch]) -> float:
        """1 / std of the latents of the first global batch (all micro-batches, all
        processes), drawn exactly as the loss will draw them."""
        stats = torch.zeros(3, dtype=torch.float64, device=self.device)
        for batch in batches:
            gens, *_ = self._draws(batch)
            z = self.batch_latents(batch, gens).double()
            stats += torch.stack([z.sum(), (z * z).sum(), z.new_tensor(float(z.numel()))])
        if self.accelerator.num_processes > 1:
            stats = self.accelerator.reduce(stats, "sum")
        total, squares, count = stats.tolist()
        mean = total / count
        return 1.0 / max(squares / count - mean * mean, 1e-12) ** 0.5

    # ---- the step -----------------------------------------------------------------------
    def _draws(
        self, batch: Batch
    ) -> tuple[list[torch.Generator], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each sample's generator, after its timestep and two uniforms (text, dropout)."""
        gens = generators(batch["seed"])
        lo = self.cfg.min_timestep
        t = torch.stack([torch.randint(lo, self.timesteps, (), generator=g) for g in gens])
        u_text, u_drop = per_sample(gens, "rand"), per_sample(gens, "rand")
        return gens, t, u_text, u_drop

    def loss(self, batch: Batch, unet: Any = None) -> torch.Tensor:
        """Mean denoising loss of a batch (``unet``: another copy, e.g. the unwrapped one)."""
        assert self.scale is not None
        gens, t, u_text, u_drop = self._draws(batch)
        z = self.batch_latents(batch, gens) * self.scale
        noise = per_sample(gens, "randn", z.shape[1:]).to(self.device)
        cond = self.conditions(batch, u_text, u_drop)
        t = t.to(self.device)
        z_t = self.noise.add_noise(z, noise, t)
        target = noise if self.cfg.prediction == "epsilon" else self.noise.get_velocity(z, noise, t)
        pred = (unet or self.unet)(z_t, t, encoder_hidden_states=None, class_labels=cond).sample
        return F.mse_loss(pred.float(), target.float())

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        if self.scale is None:
            self.scale = self._measure_scale(batches)
            self.vae.register_to_config(scaling_factor=self.scale)
        n = len(batches)
        total = torch.zeros(())
        for i, batch in enumerate(batches):
            with self.accumulating("unet", i, n):
                loss = self.loss(batch) / n
                self.accelerator.backward(loss)
            total = total + loss.detach().cpu()
        self.optimizer_step("unet", total)
        self.ema.update(self.unwrap(self.unet))
        return {"loss": total}

    # ---- validation, samples, export -------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Denoising loss of the EMA weights on the validation clips (fixed draws)."""
        data = self.val_dataset()
        if data is None or self.scale is None:
            return {}
        unet = self.unwrap(self.unet)
        losses = []
        with self.ema.swapped(unet):
            unet.eval()
            for batch in fixed_batches(data, max(1, self.cfg.batch_size)):
                batch["wav"] = batch["wav"].to(self.device)
                losses.append(self.loss(batch, unet).cpu())
        return {"loss": float(torch.stack(losses).mean())}

    def _pipeline(self, unet: Any) -> TextToAudioPipeline:
        return TextToAudioPipeline(
            unet,
            self.pipe.codec,
            self.clap,
            self.scheduler_config,
            self.pipe.defaults,
            name=self.pipe.name,
        )

    @torch.no_grad()
    def write_samples(self, writer: Any) -> None:
        """Generate the validation prompts with the EMA weights: audio, spectrogram, CLAP score."""
        if not self.cfg.val_prompts or self.scale is None:
            return
        unet = self.unwrap(self.unet)
        with self.ema.swapped(unet):
            pipe = self._pipeline(unet)
            out = pipe(
                list(self.cfg.val_prompts),
                audio_length_in_s=self.cfg.val_seconds,
                num_inference_steps=self.cfg.val_steps,
                guidance_scale=self.cfg.val_guidance,
                generator=torch.Generator().manual_seed(self.config.run.seed),
                return_mels=True,
                score=True,
            )
        unet.train()
        assert isinstance(out.waveforms, torch.Tensor) and out.mels is not None
        for i, prompt in enumerate(self.cfg.val_prompts):
            tag = f"{self.stage}/sample_{i}"
            writer.add_audio(tag, out.waveforms[i], self.step, sample_rate=self.sample_rate)
            writer.add_image(f"{tag}_mel", spectrogram_image(out.mels[i, 0]), self.step)
            writer.add_text(f"{tag}_prompt", prompt, self.step)
        if out.scores is not None:
            writer.add_scalar(f"{self.stage}/clap_score", float(out.scores.mean()), self.step)

    def export_pipeline(self) -> TextToAudioPipeline:
        unet = self.export_model("unet")
        if self.scale is not None:
            self.vae.register_to_config(scaling_factor=self.scale)
        return self._pipeline(unet)
