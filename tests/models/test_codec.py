from __future__ import annotations

import torch


def test_codec_shapes_round_trip(tiny_pipe):
    codec = tiny_pipe.codec
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        z = codec.encode(wav, sample_posterior=False)
        assert z.shape == (2, 8, 100 // 4, 16)
        mel = codec.decode_mel(z)
        assert mel.shape == (2, 1, 100, 64)
        out = codec.decode(z)
    assert out.shape == (2, 100 * 160)
    assert codec.compression == 4 and codec.latent_bins == 16


def test_encode_posterior_sampling_uses_the_generator(tiny_pipe):
    codec = tiny_pipe.codec
    wav = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        a = codec.encode(wav, generator=torch.Generator().manual_seed(3))
        b = codec.encode(wav, generator=torch.Generator().manual_seed(3))
        mean = codec.encode(wav, sample_posterior=False)
    assert torch.equal(a, b)
    assert not torch.equal(a, mean)


def test_scaling_factor_applies_both_ways(tiny_pipe):
    codec = tiny_pipe.codec
    mel = codec.wav_to_mel(torch.zeros(1, 6400))
    with torch.no_grad():
        z = codec.encode_mel(mel, sample_posterior=False)
        raw = codec.vae.encode(mel).latent_dist.mean
        torch.testing.assert_close(z, raw * codec.scaling_factor)
        torch.testing.assert_close(
            codec.decode_mel(z), codec.vae.decode(raw).sample, atol=1e-5, rtol=1e-5
        )


def test_griffin_lim_folder_without_a_hifigan(tmp_path, tiny_pipe, capsys):
    """A folder whose vocoder is Griffin-Lim may ship no HiFi-GAN (foley-small, to stay in
    its weights budget): it saves without vocoder/, loads, and decodes latents to the same
    audio as the Griffin-Lim codec that has one; asking it for the HiFi-GAN is a clear error
    (also from the CLI), not a crash."""
    import json

    import pytest

    from foleyldm.errors import CheckpointError, InvalidInputError
    from foleyldm.pipelines.loading import load_pipeline, save_pipeline
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
    from foleyldm.serving.cli import main

    with_gan = tiny_pipe.codec.with_parts()
    with_gan.vocoder_mode = "griffin-lim"
    lean = type(with_gan)(with_gan.vae, None, with_gan.mel)
    assert lean.vocoder_mode == "griffin-lim"  # the only one it has
    pipe = TextToAudioPipeline(
        tiny_pipe.unet, lean, tiny_pipe.clap, tiny_pipe.scheduler_config, tiny_pipe.defaults
    )
    save_pipeline(pipe, tmp_path / "lean")
    assert not (tmp_path / "lean" / "vocoder").exists()
    index = json.loads((tmp_path / "lean" / "model_index.json").read_text())
    assert "vocoder" not in index and "unet" in index
    loaded = load_pipeline(tmp_path / "lean")
    assert loaded.codec.vocoder is None and "vocoder" not in loaded.components
    z = torch.randn(1, *lean.latent_shape(40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded.codec.decode(z), with_gan.decode(z))
    with pytest.raises(InvalidInputError, match="ships no HiFi-GAN"):
        loaded.codec.vocoder_mode = "hifigan"
    with pytest.raises(InvalidInputError, match="unknown vocoder"):
        with_gan.vocoder_mode = "wavenet"
    with_gan.vocoder_mode = "hifigan"
    with_gan.vocoder = None  # cleared behind the setter's back: an error, not Griffin-Lim
    with pytest.raises(InvalidInputError, match="has no HiFi-GAN"), torch.no_grad():
        with_gan.decode(z)
    argv = ["generate", "a bell", "-o", str(tmp_path / "x.wav"), "--model", str(tmp_path / "lean")]
    assert main([*argv, "--vocoder", "hifigan", "--steps", "2"]) != 0
    assert "ships no HiFi-GAN" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
    # a folder that names the HiFi-GAN as its vocoder must have it
    meta_path = tmp_path / "lean" / "foleyldm.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "vocoder": "hifigan"}))
    with pytest.raises(CheckpointError, match="missing vocoder"):
        load_pipeline(tmp_path / "lean")
