"""foleyldm's pipeline against diffusers' AudioLDMPipeline on the same weights.

Same prompt embedding, initial latents, sampler and steps -> the same waveform (REFERENCE.md
§7). diffusers' pipeline is deprecated but still importable; it is the parity target for the
diffusers layout.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from diffusers import DDIMScheduler, UNet2DConditionModel

from foleyldm import TextToAudioPipeline
from foleyldm.models.clap import LaionCLAP
from foleyldm.models.codec import LatentCodec
from foleyldm.models.unet import faithful_heads
from foleyldm.pipelines.loading import build_pipeline

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from diffusers import AudioLDMPipeline

TINY_TEXT = {
    "vocab_size": 30522,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 66,
    "projection_dim": 512,  # the UNet's FiLM input
}


def diffusers_pipeline(pipe: TextToAudioPipeline) -> AudioLDMPipeline:
    """diffusers' AudioLDMPipeline sharing ``pipe``'s modules (no copies)."""
    assert isinstance(pipe.clap, LaionCLAP)
    return AudioLDMPipeline(
        vae=pipe.codec.vae,
        text_encoder=pipe.clap.text_encoder,
        tokenizer=pipe.clap.tokenizer,
        unet=pipe.unet,
        scheduler=DDIMScheduler.from_config(pipe.scheduler_config),
        vocoder=pipe.codec.vocoder,
    )


def embeds(seed: int, n: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 512, generator=g), dim=-1)


def compare(pipe: TextToAudioPipeline, seconds: float, steps: int, eta: float = 0.0) -> float:
    ref = diffusers_pipeline(pipe)
    ref.set_progress_bar_config(disable=True)
    c, uc = embeds(1), embeds(2)
    frames = int(seconds / 0.01)
    frames += -frames % 4  # diffusers pads mel frames to a multiple of the VAE's 4 only
    latents = torch.randn(1, 8, frames // 4, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = ref(
            prompt_embeds=c,
            negative_prompt_embeds=uc,
            latents=latents.clone(),
            num_inference_steps=steps,
            guidance_scale=2.5,
            audio_length_in_s=seconds,
            eta=eta,
            generator=torch.Generator().manual_seed(4),
            output_type="pt",
        ).audios
    ours = pipe(
        prompt_embeds=c,
        negative_prompt_embeds=uc,
        latents=latents.clone(),
        num_inference_steps=steps,
        guidance_scale=2.5,
        audio_length_in_s=seconds,
        sampler="ddim",
        eta=eta,
        generator=torch.Generator().manual_seed(4),
    ).waveforms[:, 0]
    assert ours.shape == expected.shape
    return float((ours - expected).abs().max())


@pytest.fixture(scope="module")
def tiny_laion_pipe() -> TextToAudioPipeline:
    base = build_pipeline("tiny")
    clap = LaionCLAP.build(TINY_TEXT, seed=0)
    return TextToAudioPipeline(base.unet, base.codec, clap, base.scheduler_config, base.defaults)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_tiny_matches_diffusers(tiny_laion_pipe, eta):
    # the same operations in the same order: bit parity in practice (measured 0.0)
    assert compare(tiny_laion_pipe, seconds=2.5, steps=5, eta=eta) <= 1e-6


def test_audioldm_s_matches_diffusers():
    """Official shapes (185 M UNet), random weights, 2 DDIM steps, 2.5 s."""
    pipe = build_pipeline("audioldm-s")
    assert compare(pipe, seconds=2.5, steps=2) <= 1e-4


def test_saved_folder_loads_in_diffusers(tiny_laion_pipe, tmp_path):
    tiny_laion_pipe.save_pretrained(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = AudioLDMPipeline.from_pretrained(tmp_path / "m")
    ref.set_progress_bar_config(disable=True)
    c, uc = embeds(5), embeds(6)
    latents = torch.randn(1, 8, 32, 16, generator=torch.Generator().manual_seed(7))
    kwargs = {"num_inference_steps": 3, "guidance_scale": 2.5, "audio_length_in_s": 1.28}
    with torch.no_grad():
        expected = ref(
            prompt_embeds=c,
            negative_prompt_embeds=uc,
            latents=latents.clone(),
            output_type="pt",
            **kwargs,
        ).audios
    ours = tiny_laion_pipe(
        prompt_embeds=c,
        negative_prompt_embeds=uc,
        latents=latents.clone(),
        sampler="ddim",
        **kwargs,
    ).waveforms[:, 0]
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
    # and text prompts go through the same text encoder in both
    with torch.no_grad():
        ref_emb = ref._encode_prompt("a dog", "cpu", 1, False)
    torch.testing.assert_close(tiny_laion_pipe.encode_prompt(["a dog"]), ref_emb)


def _cvssp_like_folder(tmp_path, pipe: TextToAudioPipeline):
    """A folder whose UNet config says 8 heads everywhere, as diffusers' AudioLDM repos do."""
    pipe.save_pretrained(tmp_path)
    import json

    cfg_path = tmp_path / "unet" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["attention_head_dim"] = 8
    cfg_path.write_text(json.dumps(cfg))
    return tmp_path


def test_attention_layouts(tiny_laion_pipe, tmp_path):
    """ "diffusers" = the config as saved (bit parity); "faithful" = channels / 32 heads."""
    folder = _cvssp_like_folder(tmp_path / "m", tiny_laion_pipe)
    as_saved = TextToAudioPipeline.from_pretrained(folder, attention_layout="diffusers")
    faithful = TextToAudioPipeline.from_pretrained(folder)
    assert as_saved.unet.config.attention_head_dim == 8
    assert tuple(faithful.unet.config.attention_head_dim) == (1, 1, 1, 2)  # tiny: 32..64 ch

    x = torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    y = embeds(9)
    with torch.no_grad():
        e_saved = as_saved.unet(x, 10, None, class_labels=y).sample
        e_faithful = faithful.unet(x, 10, None, class_labels=y).sample
        # diffusers' UNet built with per-level head counts is the reference for "faithful"
        plain = UNet2DConditionModel(
            **{**dict(as_saved.unet.config), "attention_head_dim": (1, 1, 1, 2)}
        )
        plain.load_state_dict(as_saved.unet.state_dict())
        e_plain = plain(x, 10, None, class_labels=y).sample
    # equal up to float rounding (bit-equal on Intel Xeon, 2.5e-6 apart on AMD EPYC)
    torch.testing.assert_close(e_faithful, e_plain, atol=1e-5, rtol=1e-4)
    assert (e_saved - e_faithful).abs().max() > 1e-3  # the layouts really differ


def test_faithful_heads_of_released_configs():
    s = {"attention_head_dim": 8, "block_out_channels": [128, 256, 384, 640]}
    m = {"attention_head_dim": 8, "block_out_channels": [192, 384, 576, 960]}
    l_ = {"attention_head_dim": 8, "block_out_channels": [256, 512, 768, 1280]}
    assert faithful_heads(s) == (4, 8, 12, 20)
    assert faithful_heads(m) == (6, 12, 18, 30)
    assert faithful_heads(l_) == (4, 8, 12, 20)  # 64-channel heads
    assert faithful_heads({"attention_head_dim": [2, 2, 2, 4], "block_out_channels": [32] * 4}) == (
        2,
        2,
        2,
        4,
    )


def test_codec_is_shared_not_copied(tiny_laion_pipe):
    assert isinstance(tiny_laion_pipe.codec, LatentCodec)
    ref = diffusers_pipeline(tiny_laion_pipe)
    assert ref.vae is tiny_laion_pipe.codec.vae
