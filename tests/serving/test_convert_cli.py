"""`foleyldm convert` end to end on a synthetic original checkpoint of the audioldm-s shapes.

The checkpoint is a real Lightning-style ``.ckpt`` (``{"state_dict": ...}``, torch.save) with
the official UNet/VAE/vocoder shapes (random weights) and a small LAION CLAP in the original
``cond_stage_model.model.*`` naming. The converted folder must run `foleyldm generate` and
load in diffusers' AudioLDMPipeline.
"""

from __future__ import annotations

import copy
import warnings

import soundfile as sf
import torch
from transformers import (
    ClapAudioConfig,
    ClapAudioModelWithProjection,
    ClapTextConfig,
    ClapTextModelWithProjection,
)

from foleyldm.models.clap.dual import minilm_tokenizer
from foleyldm.models.convert.checkpoint import original_state_dict_from_pipeline
from foleyldm.models.convert.clap_keys import clap_hf_to_original
from foleyldm.models.init import spread_init_
from foleyldm.serving.cli import main
from tests.models.test_convert import random_models


def small_clap_state() -> dict[str, torch.Tensor]:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        text = ClapTextModelWithProjection(
            ClapTextConfig(
                vocab_size=30522,
                hidden_size=64,
                num_hidden_layers=1,
                num_attention_heads=1,
                intermediate_size=32,
                max_position_embeddings=514,  # RoBERTa's: 512 tokens after the padding id
                projection_dim=512,
                layer_norm_eps=1e-5,
            )
        )
        audio = ClapAudioModelWithProjection(
            ClapAudioConfig(
                patch_embeds_hidden_size=16,
                depths=[2, 1],
                num_attention_heads=[2, 4],
                hidden_size=32,
                window_size=4,
                spec_size=32,
                num_mel_bins=16,
                projection_dim=512,
            )
        )
    return clap_hf_to_original(
        text.state_dict(),
        audio.state_dict(),
        torch.tensor(2.0),
        torch.tensor(3.0),
        prefix="cond_stage_model.model.",
    )


def test_convert_then_generate_and_load_in_diffusers(tmp_path, capsys):
    unet, vae, vocoder = random_models("audioldm-s", seed=2)
    g = torch.Generator().manual_seed(2)
    for m in (unet, vae, vocoder):  # N(0, 1) everywhere overflows; fan-in scaled weights do not
        spread_init_(m, g)
    state = original_state_dict_from_pipeline(unet, vae, vocoder, 0.9392935633659363, ema=False)
    state.update(small_clap_state())
    ckpt = tmp_path / "audioldm-s-synthetic.ckpt"
    torch.save({"state_dict": state, "global_step": 0}, ckpt)
    del state, unet, vae, vocoder
    # No RoBERTa vocabulary offline: the MiniLM WordPiece tokenizer stands in, with its
    # padding moved to id 1 as RoBERTa's (the converted CLAP keeps RoBERTa's padding index).
    tokenizer = copy.deepcopy(minilm_tokenizer())  # the cached one is shared: do not mutate
    tokenizer.pad_token = "[unused0]"
    assert tokenizer.pad_token_id == 1
    tok = tmp_path / "tokenizer"
    tokenizer.save_pretrained(tok)

    out = tmp_path / "converted"
    assert (
        main(
            [
                "convert",
                str(ckpt),
                str(out),
                "--variant",
                "s",
                "--no-ema",
                "--clap-tokenizer",
                str(tok),
            ]
        )
        == 0
    )
    wav = tmp_path / "x.wav"
    assert (
        main(
            [
                "generate",
                "a dog barking",
                "--model",
                str(out),
                "-o",
                str(wav),
                "--steps",
                "2",
                "--duration",
                "1.0",
                "--seed",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    info = sf.info(wav)
    assert info.samplerate == 16000 and info.frames == 16000

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from diffusers import AudioLDMPipeline

        ref = AudioLDMPipeline.from_pretrained(out)
    ref.set_progress_bar_config(disable=True)
    audio = ref(
        "a dog barking", num_inference_steps=1, audio_length_in_s=0.64, output_type="pt"
    ).audios
    assert audio.shape == (1, 10240) and torch.isfinite(audio).all()
