from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from foleyldm.audio.mel import AUDIOLDM_16K
from foleyldm.models.presets import PRESETS, get_preset


def n_params(m: torch.nn.Module) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def test_audioldm_s_parameter_counts_equal_the_official_ones():
    p = get_preset("audioldm-s")
    assert round(n_params(UNet2DConditionModel(**p.unet)), 2) == 185.04
    assert round(n_params(AutoencoderKL(**p.vae)), 2) == 55.38
    assert round(n_params(SpeechT5HifiGan(SpeechT5HifiGanConfig(**p.vocoder))), 2) == 55.26


@pytest.mark.parametrize(
    ("name", "heads"),
    [
        ("audioldm-s", (4, 8, 12, 20)),
        ("audioldm-m", (6, 12, 18, 30)),
        ("audioldm-l", (4, 8, 12, 20)),
        ("tiny", (2, 2, 2, 4)),
    ],
)
def test_faithful_heads_are_channels_over_head_width(name, heads):
    # REFERENCE.md §2: 32-channel heads (64 for -l); diffusers' attention_head_dim = head count.
    assert PRESETS[name].unet["attention_head_dim"] == heads


def test_presets_share_the_one_mel_front_end():
    for p in PRESETS.values():
        assert p.mel == AUDIOLDM_16K
        assert p.vocoder["model_in_dim"] == p.mel.n_mels
        hop = 1
        for r in p.vocoder["upsample_rates"]:
            hop *= r
        assert hop == p.mel.hop_length
        assert p.vocoder["sampling_rate"] == p.mel.sample_rate


def test_unknown_preset():
    with pytest.raises(KeyError, match="unknown preset"):
        get_preset("huge")
