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
