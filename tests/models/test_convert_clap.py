"""LAION CLAP key mapping (original AudioLDM layout <-> transformers), on tiny random models."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from transformers import (
    ClapAudioConfig,
    ClapAudioModelWithProjection,
    ClapTextConfig,
    ClapTextModelWithProjection,
)

from foleyldm.models.clap.laion import (
    HTSAT_BASE_AUDIO_CONFIG,
    HTSAT_TINY_AUDIO_CONFIG,
    LAION_TEXT_CONFIG,
)
from foleyldm.models.convert.clap_keys import (
    CLAP_PREFIX,
    clap_configs_from_state,
    clap_hf_to_original,
    clap_original_to_hf,
    ignored_reason,
)

P = CLAP_PREFIX
TINY_TEXT = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 37,
    "max_position_embeddings": 40,
    "projection_dim": 24,
}
# Grid 32/4 = 8 patches, window 4: stage 0 (8x8) has a shifted block, stage 1 (4x4) does not.
TINY_AUDIO = {
    "patch_embeds_hidden_size": 16,
    "depths": [2, 1],
    "num_attention_heads": [2, 4],
    "hidden_size": 32,
    "window_size": 4,
    "spec_size": 32,
    "num_mel_bins": 16,
    "projection_dim": 24,
}
TINY_FUSION = {**TINY_AUDIO, "enable_fusion": True, "fusion_type": "aff_2d"}


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Every float tensor random (zero-initialised tables and BN stats included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))
                if name.endswith("running_var"):
                    t.abs_().add_(0.5)
            elif name.endswith("num_batches_tracked"):
                t.fill_(7)


def _tiny(audio_config: dict, seed: int = 0):
    torch.manual_seed(seed)
    text = ClapTextModelWithProjection(ClapTextConfig(**TINY_TEXT)).eval()
    audio = ClapAudioModelWithProjection(ClapAudioConfig(**audio_config)).eval()
    _randomize(text, seed)
    _randomize(audio, seed + 1)
    return text, audio


def _original(text, audio) -> dict[str, torch.Tensor]:
    return clap_hf_to_original(
        text.state_dict(), audio.state_dict(), torch.tensor(2.5), torch.tensor(3.5)
    )


def _inputs(fusion: bool):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 100, (2, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = 1  # padding id
    feats = torch.randn(2, 4 if fusion else 1, 64, 16, generator=g)
    longer = torch.tensor([[True], [False]])
    return ids, mask, feats, longer


def _assert_same_state(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        assert torch.equal(got[k], v), k


@pytest.mark.parametrize("audio_config", [TINY_AUDIO, TINY_FUSION], ids=["plain", "fusion"])
def test_hf_original_hf_round_trip_is_exact(audio_config):
    text, audio = _tiny(audio_config)
    orig = _original(text, audio)
    conv = clap_original_to_hf(orig)
    assert conv.unknown == set() and conv.ignored == set()
    assert conv.used == set(orig)
    assert conv.derived == {"text_model.embeddings.token_type_ids"}
    assert float(conv.logit_scale_a) == 2.5 and float(conv.logit_scale_t) == 3.5
    _assert_same_state(conv.text, text.state_dict())
    _assert_same_state(conv.audio, audio.state_dict())
    # no two outputs share storage (safetensors would refuse them)
    ptrs = [t.untyped_storage().data_ptr() for t in conv.audio.values()]
    assert len(set(ptrs)) == len(ptrs)

    text2 = ClapTextModelWithProjection(ClapTextConfig(**TINY_TEXT)).eval()
    audio2 = ClapAudioModelWithProjection(ClapAudioConfig(**audio_config)).eval()
    text2.load_state_dict(conv.text, strict=True)
    audio2.load_state_dict(conv.audio, strict=True)
    ids, mask, feats, longer = _inputs(audio_config.get("enable_fusion", False))
    with torch.no_grad():
        want_t = text(input_ids=ids, attention_mask=mask).text_embeds
        got_t = text2(input_ids=ids, attention_mask=mask).text_embeds
        want_a = audio(input_features=feats, is_longer=longer).audio_embeds
        got_a = audio2(input_features=feats, is_longer=longer).audio_embeds
    assert torch.equal(got_t, want_t) and torch.equal(got_a, want_a)
    assert torch.isfinite(got_a).all() and got_a.abs().sum() > 0


def test_original_layout_has_laion_names():
    text, audio = _tiny(TINY_AUDIO)
    orig = _original(text, audio)
    for key in (
        "text_branch.embeddings.word_embeddings.weight",
        "text_branch.embeddings.position_ids",
        "text_branch.encoder.layer.0.attention.self.query.weight",
        "text_branch.encoder.layer.1.output.LayerNorm.bias",
        "text_branch.pooler.dense.weight",
        "text_projection.0.weight",
        "text_projection.2.bias",
        "audio_projection.0.weight",
        "audio_projection.2.bias",
        "audio_branch.bn0.running_var",
        "audio_branch.patch_embed.proj.weight",
        "audio_branch.patch_embed.norm.weight",
        "audio_branch.layers.0.blocks.0.norm1.weight",
        "audio_branch.layers.0.blocks.0.attn.qkv.weight",
        "audio_branch.layers.0.blocks.1.attn.qkv.bias",
        "audio_branch.layers.0.blocks.0.attn.proj.weight",
        "audio_branch.layers.0.blocks.0.attn.relative_position_bias_table",
        "audio_branch.layers.0.blocks.0.attn.relative_position_index",
        "audio_branch.layers.0.blocks.0.norm2.bias",
        "audio_branch.layers.0.blocks.0.mlp.fc1.weight",
        "audio_branch.layers.1.blocks.0.mlp.fc2.bias",
        "audio_branch.layers.0.downsample.reduction.weight",
        "audio_branch.layers.0.downsample.norm.weight",
        "audio_branch.norm.weight",
        "logit_scale_a",
        "logit_scale_t",
    ):
        assert P + key in orig, key
    assert orig[P + "audio_branch.layers.0.blocks.0.attn.qkv.weight"].shape == (48, 16)
    assert not any(k.startswith(P + "audio_branch.layers.0.downsample.reduction.b") for k in orig)
    assert not any("token_type_ids" in k or ("query" in k and "audio" in k) for k in orig)
    assert all(k.startswith(P) for k in orig)


def test_qkv_rows_are_query_key_value():
    """The fused Swin Linear computes [q | k | v] exactly as the split transformers Linears."""
    _, audio = _tiny(TINY_AUDIO)
    orig = clap_hf_to_original(None, audio.state_dict())
    attn = audio.audio_model.audio_encoder.layers[0].blocks[1].attention.self
    w = orig[P + "audio_branch.layers.0.blocks.1.attn.qkv.weight"]
    b = orig[P + "audio_branch.layers.0.blocks.1.attn.qkv.bias"]
    x = torch.randn(5, 16)
    with torch.no_grad():
        q, k, v = F.linear(x, w, b).chunk(3, dim=-1)
        # not bit-equal on every CPU: BLAS blocks a [48, 16] and a [16, 16] product
        # differently (seen on AMD EPYC); a wrong row order is off by O(1)
        for fused, split in ((q, attn.query(x)), (k, attn.key(x)), (v, attn.value(x))):
            torch.testing.assert_close(fused, split, atol=1e-5, rtol=1e-5)
        assert (q - attn.key(x)).abs().max() > 0.1


def _ln(x: torch.Tensor, sd: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], 1e-5)


def test_original_names_mean_what_the_original_htsat_computes():
    """An unshifted single-window Swin block and a patch merging written as the original HTSAT
    code computes them, on the original key names, match transformers' modules."""
    _, audio = _tiny(TINY_AUDIO)
    audio = audio.double()  # float64: agreement up to rounding, whatever the op order
    sd = clap_hf_to_original(None, audio.state_dict(), prefix="")
    enc = audio.audio_model.audio_encoder
    g = torch.Generator().manual_seed(3)

    # stage 1: 4x4 tokens, window 4 -> one window, no shift; 4 heads of width 8
    blk = "audio_branch.layers.1.blocks.0."
    x = torch.randn(2, 16, 32, generator=g, dtype=torch.float64)
    b, n, c, heads = 2, 16, 32, 4
    h = _ln(x, sd, blk + "norm1")
    qkv = F.linear(h, sd[blk + "attn.qkv.weight"], sd[blk + "attn.qkv.bias"])
    q, k, v = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
    table = sd[blk + "attn.relative_position_bias_table"]
    bias = table[sd[blk + "attn.relative_position_index"].view(-1)].view(n, n, -1)
    attn = (attn + bias.permute(2, 0, 1)[None]).softmax(-1)
    h = (attn @ v).transpose(1, 2).reshape(b, n, c)
    x1 = x + F.linear(h, sd[blk + "attn.proj.weight"], sd[blk + "attn.proj.bias"])
    h = F.linear(_ln(x1, sd, blk + "norm2"), sd[blk + "mlp.fc1.weight"], sd[blk + "mlp.fc1.bias"])
    want = x1 + F.linear(F.gelu(h), sd[blk + "mlp.fc2.weight"], sd[blk + "mlp.fc2.bias"])
    with torch.no_grad():
        got = enc.layers[1].blocks[0](x, (4, 4))[0]
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-10)

    # stage 0 patch merging: 8x8 tokens of 16 -> 4x4 tokens of 32
    ds = "audio_branch.layers.0.downsample."
    x = torch.randn(2, 64, 16, generator=g, dtype=torch.float64)
    grid = x.view(2, 8, 8, 16)
    parts = [grid[:, 0::2, 0::2], grid[:, 1::2, 0::2], grid[:, 0::2, 1::2], grid[:, 1::2, 1::2]]
    merged = torch.cat(parts, -1).view(2, 16, 64)
    want = F.linear(_ln(merged, sd, ds + "norm"), sd[ds + "reduction.weight"])
    with torch.no_grad():
        got = enc.layers[0].downsample(x, (8, 8))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-10)


def test_text_branch_is_the_roberta_the_original_runs():
    """The original text tower is a transformers RobertaModel (+ Linear-ReLU-Linear on its
    pooler output): loading ``text_branch.*`` into one gives ClapText's embedding."""
    from transformers import RobertaConfig, RobertaModel

    cfg = {**TINY_TEXT, "layer_norm_eps": 1e-5}
    torch.manual_seed(0)
    text = ClapTextModelWithProjection(ClapTextConfig(**cfg)).eval()
    _randomize(text, 5)
    sd = clap_hf_to_original(text.state_dict(), None, prefix="")
    roberta = RobertaModel(
        RobertaConfig(**{k: v for k, v in cfg.items() if k != "projection_dim"}, type_vocab_size=1)
    ).eval()
    branch = {k.removeprefix("text_branch."): v for k, v in sd.items() if "text_branch." in k}
    # the installed RobertaModel keeps position_ids / token_type_ids non-persistent; the one the
    # checkpoints were saved with stored position_ids
    missing, unexpected = roberta.load_state_dict(branch, strict=False)
    assert not missing and set(unexpected) == {"embeddings.position_ids"}
    ids, mask, _, _ = _inputs(False)
    with torch.no_grad():
        pooled = roberta(input_ids=ids, attention_mask=mask).pooler_output
        h = F.relu(F.linear(pooled, sd["text_projection.0.weight"], sd["text_projection.0.bias"]))
        want = F.linear(h, sd["text_projection.2.weight"], sd["text_projection.2.bias"])
        got = text(input_ids=ids, attention_mask=mask).text_embeds
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_original_hf_original_partitions_keys():
    text, audio = _tiny(TINY_AUDIO)
    orig = _original(text, audio)
    ignored = {
        P + "text_transform.sequential.0.weight": torch.zeros(24, 24),
        P + "text_transform.sequential.3.bias": torch.zeros(24),
        P + "audio_transform.sequential.0.weight": torch.zeros(24, 24),
        P + "audio_branch.spectrogram_extractor.stft.conv_real.weight": torch.zeros(513, 1, 1024),
        P + "audio_branch.spectrogram_extractor.stft.conv_imag.weight": torch.zeros(513, 1, 1024),
        P + "audio_branch.logmel_extractor.melW": torch.zeros(513, 16),
        P + "audio_branch.tscam_conv.weight": torch.zeros(527, 32, 2, 3),
        P + "audio_branch.tscam_conv.bias": torch.zeros(527),
        P + "audio_branch.head.weight": torch.zeros(527, 527),
        P + "audio_branch.head.bias": torch.zeros(527),
        P + "audio_branch.layers.0.blocks.1.attn_mask": torch.zeros(4, 16, 16),
        P + "text_branch.embeddings.token_type_ids": torch.zeros(1, 40, dtype=torch.long),
    }
    unknown = {
        P + "audio_branch.absolute_pos_embed": torch.zeros(1, 64, 16),
        P + "audio_branch.mel_conv1d.0.weight": torch.zeros(64, 64, 5),
        P + "audio_branch.layers.0.blocks.0.attn.qkv.extra": torch.zeros(1),
        P + "text_branch.encoder.layer.0.attention.self.distance_embedding.weight": torch.zeros(1),
        P + "something_new": torch.zeros(1),
    }
    outside = {
        "model.diffusion_model.out.0.weight": torch.zeros(1),
        "cond_stage_model.x": torch.zeros(1),
    }
    conv = clap_original_to_hf({**orig, **ignored, **unknown, **outside})
    assert conv.used == set(orig)
    assert conv.ignored == set(ignored)
    assert conv.unknown == set(unknown)
    with pytest.raises(KeyError, match="something_new"):
        conv.raise_for_unknown()
    for key in ignored:
        assert ignored_reason(key)
    assert ignored_reason(next(iter(orig))) is None

    back = clap_hf_to_original(conv.text, conv.audio, conv.logit_scale_a, conv.logit_scale_t)
    _assert_same_state(back, orig)


def test_custom_prefix_and_stripped_keys():
    text, audio = _tiny(TINY_AUDIO)
    orig = clap_hf_to_original(text.state_dict(), audio.state_dict(), prefix="")
    assert "audio_branch.layers.0.blocks.0.attn.qkv.weight" in orig
    conv = clap_original_to_hf(orig, prefix="")
    assert conv.unknown == set() and conv.used == set(orig)
    _assert_same_state(conv.audio, audio.state_dict())


def test_missing_derived_buffers_are_recreated_as_transformers_does():
    text, audio = _tiny(TINY_AUDIO)
    orig = _original(text, audio)
    dropped = {
        k
        for k in orig
        if k.endswith(("position_ids", "relative_position_index", "num_batches_tracked"))
    }
    assert len(dropped) == 1 + 3 + 1
    conv = clap_original_to_hf({k: v for k, v in orig.items() if k not in dropped})
    assert len(conv.derived) == len(dropped) + 1  # + token_type_ids
    fresh_t = ClapTextModelWithProjection(ClapTextConfig(**TINY_TEXT)).state_dict()
    fresh_a = ClapAudioModelWithProjection(ClapAudioConfig(**TINY_AUDIO)).state_dict()
    for key in conv.derived:
        want = (fresh_t if key.startswith("text_") else fresh_a)[key]
        want = torch.zeros_like(want) if key.endswith("num_batches_tracked") else want
        got = {**conv.text, **conv.audio}[key]
        assert got.dtype == want.dtype and torch.equal(got, want), key


def test_hf_to_original_rejects_unknown_and_partial_qkv():
    text, audio = _tiny(TINY_AUDIO)
    with pytest.raises(KeyError, match=r"text_model\.bogus"):
        clap_hf_to_original({**text.state_dict(), "text_model.bogus": torch.zeros(1)}, None)
    state = audio.state_dict()
    del state["audio_model.audio_encoder.layers.1.blocks.0.attention.self.value.weight"]
    with pytest.raises(KeyError, match="value"):
        clap_hf_to_original(None, state)


def _attn_masks(audio: ClapAudioModelWithProjection) -> dict[str, torch.Tensor]:
    """The original HTSAT's persistent shifted-window masks (same construction as transformers)."""
    out = {}
    enc = audio.audio_model.audio_encoder
    for i, stage in enumerate(enc.layers):
        h, w = enc.input_resolutions[i]
        for j, block in enumerate(stage.blocks):
            block.set_shift_and_window_size((h, w))
            mask = block.get_attn_mask(h, w, torch.float32, "cpu")
            if mask is not None:
                out[f"{P}audio_branch.layers.{i}.blocks.{j}.attn_mask"] = mask
    return out


@pytest.mark.parametrize("audio_config", [TINY_AUDIO, TINY_FUSION], ids=["plain", "fusion"])
def test_configs_from_state_tiny(audio_config):
    text, audio = _tiny(audio_config)
    masks = _attn_masks(audio)
    assert list(masks) == [P + "audio_branch.layers.0.blocks.1.attn_mask"]
    state = {**_original(text, audio), **masks}
    text_cfg, audio_cfg = clap_configs_from_state(state, text_heads=2)
    for k, v in TINY_TEXT.items():
        assert text_cfg[k] == v, k
    for k, v in audio_config.items():
        assert audio_cfg[k] == v, k
    assert audio_cfg["enable_fusion"] == audio_config.get("enable_fusion", False)
    # the inferred configs build models that load the converted weights strictly
    conv = clap_original_to_hf(state)
    ClapTextModelWithProjection(ClapTextConfig(**text_cfg)).load_state_dict(conv.text)
    ClapAudioModelWithProjection(ClapAudioConfig(**audio_cfg)).load_state_dict(conv.audio)
    with pytest.raises(ValueError, match="heads"):
        clap_configs_from_state(state)  # width 32: head count not inferable


@pytest.mark.parametrize(
    ("preset", "n_orig", "n_hf"),
    [(HTSAT_TINY_AUDIO_CONFIG, 192, 240), (HTSAT_BASE_AUDIO_CONFIG, 276, 348)],
    ids=["htsat-tiny", "htsat-base"],
)
def test_full_size_on_meta(preset, n_orig, n_hf):
    with torch.device("meta"):
        text = ClapTextModelWithProjection(ClapTextConfig(**LAION_TEXT_CONFIG))
        audio = ClapAudioModelWithProjection(ClapAudioConfig(**preset))
        orig = clap_hf_to_original(
            text.state_dict(), audio.state_dict(), torch.zeros(()), torch.zeros(())
        )
        conv = clap_original_to_hf(orig)
    n_text = sum(k.startswith(P + "text_") for k in orig)
    n_audio = sum(k.startswith(P + "audio_") for k in orig)
    assert (n_text, n_audio, len(orig)) == (204, n_orig, 204 + n_orig + 2)
    assert conv.unknown == set() and conv.used == set(orig)
    for model, got in ((text, conv.text), (audio, conv.audio)):
        want = model.state_dict()
        assert len(want) == (205 if model is text else n_hf)
        assert set(got) == set(want)
        assert {n for n, _ in model.named_parameters()} <= set(got)
        for k, v in want.items():
            assert got[k].shape == v.shape and got[k].dtype == v.dtype, k
    text_cfg, audio_cfg = clap_configs_from_state(orig)
    assert text_cfg == {**LAION_TEXT_CONFIG, "layer_norm_eps": 1e-5}
    for k, v in preset.items():
        assert audio_cfg[k] == v, k
    assert audio_cfg["window_size"] == 8 and audio_cfg["spec_size"] == 256
