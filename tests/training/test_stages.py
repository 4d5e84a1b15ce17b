"""Each stage learns: on the tiny preset and the toy corpus its loss really drops in a dozen
steps with a fixed seed, and the corrupt clip in the manifest is skipped, counted, survived."""

from __future__ import annotations

from statistics import mean

import pytest

from foleyldm.training.runner import TRAINERS, train_stage

from .conftest import CORRUPT, tiny_config

#: stage -> validation metric that must drop by at least this fraction over the run
VALIDATION_DROP = {"vae": ("rec_l1", 0.1), "vocoder": ("mel_l1", 0.3)}


def _first_last(history: list[dict[str, float]], key: str, n: int = 4) -> tuple[float, float]:
    values = [row[key] for row in history]
    return mean(values[:n]), mean(values[-n:])


@pytest.mark.parametrize("stage", ["clap", "vae", "vocoder", "ldm"])
def test_stage_loss_drops_and_corrupt_clip_is_skipped(stage, corpus, tmp_path) -> None:
    trainer = TRAINERS[stage](tiny_config(corpus), tmp_path / stage)
    before = trainer.validate()
    result = trainer.fit()

    assert result.step == 12 and len(result.history) == 12 and not result.interrupted
    key = {"vocoder": "mel_l1", "vae": "rec"}.get(stage, "loss")  # GAN terms join later
    first, last = _first_last(result.history, key)
    print(f"{stage}: training loss {first:.4f} -> {last:.4f}; {before} -> {result.metrics}")
    # measured: clap 0.50, vae 0.83, vocoder 0.39, ldm 0.68 of the first steps' mean
    assert last < (0.9 if stage == "vae" else 0.8) * first
    if stage in VALIDATION_DROP:
        key, fraction = VALIDATION_DROP[stage]
        assert result.metrics[key] < (1 - fraction) * before[key]
    if stage == "clap":  # retrieval on the held-out clips improves on chance (1/6)
        assert result.metrics["t2a_r1"] > 1 / 6
    if stage == "ldm":
        assert trainer.scale is not None and 0.2 < trainer.scale < 20
    # 12 steps x 4+ clips > one epoch of 31: the corrupt clip was drawn, skipped, counted
    assert result.skipped >= 1 and [p.endswith(CORRUPT) for p in result.corrupt] == [True]
    assert result.checkpoint is not None and result.checkpoint.name == "step_00000012"


def test_gradient_accumulation_matches_one_big_batch(corpus, tmp_path) -> None:
    """Two micro-batches of 2 are the same step as one batch of 4 (same clips, same noise)."""
    runs = {}
    for accum in (1, 2):
        cfg = tiny_config(corpus, "ldm.steps=3", f"ldm.grad_accum={accum}")
        runs[accum] = [r["loss"] for r in train_stage("ldm", cfg, tmp_path / str(accum)).history]
    assert runs[1] == pytest.approx(runs[2], rel=1e-5)


def test_vae_decoder_fine_tune_keeps_the_latent_space(corpus, tmp_path) -> None:
    """``vae.train_encoder=false``: the encoder and its latent scale are untouched, the
    decoder learns, and the exported model encodes exactly as before."""
    import torch

    from foleyldm.training.vae import VAETrainer

    cfg = tiny_config(corpus, "vae.steps=6", "vae.train_encoder=false", "vae.disc_start=3")
    trainer = VAETrainer(cfg, tmp_path / "vae")
    vae = trainer.vae_model
    decoding = ("decoder.", "post_quant_conv.")
    frozen = {k: v.clone() for k, v in vae.state_dict().items() if not k.startswith(decoding)}
    assert any(k.startswith("encoder.") for k in frozen)
    decoder = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    scale = float(vae.config.scaling_factor)
    before = trainer.validate()["rec_l1"]
    result = trainer.fit()

    assert result.step == 6
    for k, v in vae.state_dict().items():
        if k in frozen:
            torch.testing.assert_close(v, frozen[k], rtol=0, atol=0, msg=k)
    changed = [k for k, v in vae.decoder.state_dict().items() if not torch.equal(v, decoder[k])]
    assert len(changed) > len(decoder) // 2
    assert result.metrics["rec_l1"] < before
    trainer.pipe.codec.vocoder_mode = "griffin-lim"  # as foley-small's folder chooses
    trainer.pipe.codec.griffin_lim_iters = 7
    exported = trainer.export_pipeline()
    assert float(exported.codec.vae.config.scaling_factor) == scale
    # the init's vocoder choice survives a VAE fine-tune (it used to fall back to HiFi-GAN)
    assert exported.codec.vocoder_mode == "griffin-lim"
    assert exported.codec.griffin_lim_iters == 7


def test_widened_vae_decodes_as_before_and_trains(corpus, tmp_path, tiny_pipe) -> None:
    """``vae.latent_channels``: a trained VAE grows its latent; at the start it encodes the
    old channels and decodes exactly as before, and the new channels then learn."""
    import pytest
    import torch

    from foleyldm.training.config import ConfigError
    from foleyldm.training.vae import VAETrainer, widened_vae

    vae = tiny_pipe.codec.vae
    old = int(vae.config.latent_channels)
    wide = widened_vae(vae, old + 4, seed=0)
    mel = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        a, b = vae.encode(mel).latent_dist, wide.encode(mel).latent_dist
        torch.testing.assert_close(b.mean[:, :old], a.mean)
        torch.testing.assert_close(b.logvar[:, :old], a.logvar)
        assert b.mean.shape[1] == old + 4 and float(b.std[:, old:].max()) < 0.2
        torch.testing.assert_close(wide.decode(b.mean).sample, vae.decode(a.mean).sample)
    with pytest.raises(ConfigError, match="only widening"):
        widened_vae(vae, old - 1, seed=0)

    cfg = tiny_config(corpus, "vae.steps=3", f"vae.latent_channels={old + 4}")
    trainer = VAETrainer(cfg, tmp_path / "vae")
    start = trainer.vae_model.decoder.conv_in.weight[:, old:].clone()
    assert not start.any()
    trainer.fit()
    assert trainer.vae_model.decoder.conv_in.weight[:, old:].abs().max() > 0
    assert trainer.export_pipeline().codec.latent_channels == old + 4


def test_ldm_on_a_widened_vae_widens_its_unet(corpus, tmp_path, tiny_pipe) -> None:
    """An 8 -> 12 channel VAE under the old UNet: the UNet grows to match, still predicts
    the old channels as before (new inputs ignored, new outputs zero), then trains."""
    import copy

    import torch

    from foleyldm.training.ldm import widened_unet
    from foleyldm.training.vae import widened_vae

    old = tiny_pipe.codec.latent_channels
    unet = tiny_pipe.unet
    wide = widened_unet(unet, old + 4).eval()
    x = torch.randn(1, old + 4, 32, 32)
    t, cond = torch.tensor([500]), torch.randn(1, 512)
    with torch.no_grad():
        a = unet(x[:, :old], t, encoder_hidden_states=None, class_labels=cond).sample
        b = wide(x, t, encoder_hidden_states=None, class_labels=cond).sample
    torch.testing.assert_close(b[:, :old], a)
    assert not b[:, old:].any()

    pipe = copy.deepcopy(tiny_pipe)
    pipe.codec = pipe.codec.with_parts(vae=widened_vae(pipe.codec.vae, old + 4, seed=0))
    pipe.save_pretrained(tmp_path / "init")
    cfg = tiny_config(corpus, f"init={tmp_path / 'init'}", "ldm.steps=2")
    trainer = TRAINERS["ldm"](cfg, tmp_path / "ldm")
    trainer.fit()
    exported = trainer.export_pipeline()
    assert exported.unet.config.in_channels == exported.unet.config.out_channels == old + 4
    out = exported("a bell", audio_length_in_s=0.5, num_inference_steps=2,
                   generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.isfinite(out.waveforms).all()


def test_vae_validation_reports_the_l1_over_bins_with_sound(tmp_path, corpus):
    import math

    import torch

    from foleyldm.audio.mel import mel_spectrogram
    from foleyldm.training.vae import VAETrainer, sound_mask

    cfg = tiny_config(corpus, "vae.steps=1")
    trainer = VAETrainer(cfg, tmp_path / "vae")
    mel_cfg = trainer.pipe.codec.mel
    t = torch.arange(16000) / 16000
    wav = torch.cat([0.5 * torch.sin(2 * math.pi * 440 * t), torch.zeros(16000)])
    mask = sound_mask(mel_spectrogram(wav, mel_cfg), mel_cfg.log_floor)  # [T, M]
    frames = mask.shape[0]
    assert mask[: frames // 2 - 5].any(dim=1).all()  # the tone: sound in every frame
    assert not mask[frames // 2 + 5 :].any()  # the silence: none
    assert mask[: frames // 2 - 5].float().mean() < 0.9  # not every band of a tone

    # half tone, half silence: the two figures differ; all silence has no active figure
    trainer._val_batches = lambda: iter([{"wav": wav[None]}])  # type: ignore[method-assign]
    metrics = trainer.validate()
    assert set(metrics) == {"rec_l1", "rec_l1_active"}
    assert metrics["rec_l1_active"] != pytest.approx(metrics["rec_l1"], rel=1e-3)
    trainer._val_batches = lambda: iter([{"wav": torch.zeros(1, 32000)}])  # type: ignore[method-assign]
    assert set(trainer.validate()) == {"rec_l1"}


def test_ldm_min_timestep_trains_the_noisy_part_only(corpus, tmp_path) -> None:
    """``ldm.min_timestep``: timesteps come from [min, T); 0 keeps the full-range draws
    exactly (a resume of an older run draws what it drew before)."""
    import torch

    from foleyldm.training.config import ConfigError

    seeds = {"seed": torch.arange(256)}
    full = TRAINERS["ldm"](tiny_config(corpus), tmp_path / "a")
    high = TRAINERS["ldm"](tiny_config(corpus, "ldm.min_timestep=500"), tmp_path / "b")
    t_full, t_high = full._draws(seeds)[1], high._draws(seeds)[1]
    assert full.timesteps == 1000 and int(t_full.min()) < 50 and int(t_full.max()) > 950
    assert int(t_high.min()) >= 500 and int(t_high.max()) > 950
    plain = torch.stack([torch.randint(1000, (), generator=torch.Generator().manual_seed(s))
                         for s in range(256)])  # fmt: skip
    assert torch.equal(t_full, plain)
    with pytest.raises(ConfigError, match="min_timestep"):
        TRAINERS["ldm"](tiny_config(corpus, "ldm.min_timestep=1000"), tmp_path / "c")


def test_vae_detail_weight_adds_the_difference_l1(corpus, tmp_path) -> None:
    """``vae.detail_weight`` w: the first step (same weights, clips and noise for every w)
    scores the plain L1 plus w times the L1 of the frequency and time differences."""
    from foleyldm.training.vae import VAETrainer

    rec = {}
    for weight in (0.0, 1.0, 2.0):
        cfg = tiny_config(corpus, "vae.steps=1", f"vae.detail_weight={weight}")
        rec[weight] = VAETrainer(cfg, tmp_path / str(weight)).fit().history[0]["rec"]
    detail = rec[1.0] - rec[0.0]
    assert rec[0.0] > 0 and detail > 0.01 * rec[0.0]
    assert rec[2.0] - rec[0.0] == pytest.approx(2 * detail, rel=1e-4)


def test_vocoder_stage_from_a_folder_without_a_hifigan(corpus, tmp_path, tiny_pipe) -> None:
    """A Griffin-Lim-only init (foley-small ships no HiFi-GAN): the vocoder stage starts a
    new HiFi-GAN for the init's mel front end and exports a folder that uses it."""
    import copy

    import torch

    from foleyldm.pipelines.loading import load_pipeline

    pipe = copy.deepcopy(tiny_pipe)
    pipe.codec = type(pipe.codec)(pipe.codec.vae, None, pipe.codec.mel)
    pipe.save_pretrained(tmp_path / "init")
    cfg = tiny_config(corpus, f"init={tmp_path / 'init'}", "vocoder.steps=2")
    trainer = TRAINERS["vocoder"](cfg, tmp_path / "vocoder")
    assert trainer.fit().step == 2
    exported = trainer.export_pipeline()
    assert exported.codec.vocoder is not None and exported.codec.vocoder_mode == "hifigan"
    before, after = pipe.codec.vae.state_dict(), exported.codec.vae.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the VAE is not trained here
    exported.save_pretrained(tmp_path / "out")
    assert (tmp_path / "out" / "vocoder" / "config.json").is_file()
    reloaded = load_pipeline(tmp_path / "out")
    assert reloaded.codec.vocoder is not None and reloaded.codec.vocoder_mode == "hifigan"
