"""CLAP backends: shapes, determinism, batch consistency, save/load, strict loading."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from foleyldm.audio.mel import MelConfig
from foleyldm.models.clap import (
    CLAP,
    HTSAT_BASE_AUDIO_CONFIG,
    HTSAT_TINY_AUDIO_CONFIG,
    LAION_TEXT_CONFIG,
    DualEncoderCLAP,
    DualEncoderConfig,
    LaionCLAP,
    load_clap,
    save_clap,
)

TEXTS = ["a dog barking", "rain on a tin roof while thunder rolls in the distance", ""]

TINY_BERT = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
TINY_DUAL = DualEncoderConfig(
    text_model=TINY_BERT,
    freeze_text=False,
    max_text_tokens=32,
    audio_channels=(4, 8),
    max_seconds=1.0,
    embed_dim=16,
)
TINY_LAION_TEXT = {
    "vocab_size": 30522,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 66,
    "projection_dim": 16,
}
TINY_LAION_AUDIO = {
    "patch_embeds_hidden_size": 8,
    "depths": [1, 1],
    "num_attention_heads": [1, 2],
    "hidden_size": 16,
    "projection_dim": 16,
}


def _wav(batch: int, seconds: float, sr: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(seconds * sr), generator=g)


@pytest.fixture(scope="module")
def tiny_dual() -> DualEncoderCLAP:
    return DualEncoderCLAP.build(TINY_DUAL, seed=0)


@pytest.fixture(scope="module")
def minilm_dual() -> DualEncoderCLAP:
    return DualEncoderCLAP.build(DualEncoderConfig(max_seconds=1.0), seed=0)


@pytest.fixture(scope="module")
def tiny_laion() -> LaionCLAP:
    return LaionCLAP.build(TINY_LAION_TEXT, TINY_LAION_AUDIO, seed=0)


@pytest.fixture(scope="module", params=["tiny_dual", "minilm_dual", "tiny_laion"])
def clap(request: pytest.FixtureRequest) -> CLAP:
    return request.getfixturevalue(request.param)


def _unit_rows(x: torch.Tensor, dim: int) -> None:
    assert x.dtype == torch.float32 and x.shape[-1] == dim
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(x.shape[0]))


# -- both backends ------------------------------------------------------------------------
@torch.no_grad()
def test_text_embeddings_shape_determinism_and_batch(clap: CLAP) -> None:
    emb = clap.encode_text(TEXTS)
    assert emb.shape == (3, clap.embed_dim)
    _unit_rows(emb, clap.embed_dim)
    assert torch.equal(emb, clap.encode_text(TEXTS))
    single = torch.cat([clap.encode_text([t]) for t in TEXTS])
    torch.testing.assert_close(emb, single, atol=1e-5, rtol=0)
    assert (emb[0] - emb[1]).abs().max() > 1e-3


@torch.no_grad()
def test_audio_embeddings_shape_and_batch(clap: CLAP) -> None:
    assert clap.can_encode_audio
    wav = _wav(2, 1.5, 16000)
    emb = clap.encode_audio(wav, 16000)
    assert emb.shape == (2, clap.embed_dim)
    _unit_rows(emb, clap.embed_dim)
    torch.testing.assert_close(clap.encode_audio(wav[1:], 16000), emb[1:], atol=1e-5, rtol=0)
    torch.testing.assert_close(clap.encode_audio(wav[:, None], 16000), emb)  # [B, 1, N]
    # Short clips, other sample rates, silence: all fine, no NaN.
    for x, sr in [
        (_wav(1, 0.1, 16000), 16000),
        (_wav(2, 0.5, 44100), 44100),
        (torch.zeros(1, 8000), 16000),
    ]:
        out = clap.encode_audio(x, sr)
        assert out.shape == (x.shape[0], clap.embed_dim) and torch.isfinite(out).all()


def test_build_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = DualEncoderCLAP.build(TINY_DUAL, seed=3).state_dict()
    b = DualEncoderCLAP.build(TINY_DUAL, seed=3).state_dict()
    c = DualEncoderCLAP.build(TINY_DUAL, seed=4).state_dict()
    la = LaionCLAP.build(TINY_LAION_TEXT, TINY_LAION_AUDIO, seed=3).state_dict()
    lb = LaionCLAP.build(TINY_LAION_TEXT, TINY_LAION_AUDIO, seed=3).state_dict()
    assert torch.equal(state, torch.random.get_rng_state())
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    assert la.keys() == lb.keys() and all(torch.equal(la[k], lb[k]) for k in la)


# -- dual backend -------------------------------------------------------------------------
def _assert_same_embeddings(a: CLAP, b: CLAP) -> None:
    wav = _wav(2, 1.2, 16000, seed=1)
    with torch.no_grad():
        assert torch.equal(a.encode_text(TEXTS), b.encode_text(TEXTS))
        assert torch.equal(a.encode_audio(wav, 16000), b.encode_audio(wav, 16000))


def test_dual_round_trip_random_text_tower(tiny_dual: DualEncoderCLAP, tmp_path: Path) -> None:
    save_clap(tiny_dual, tmp_path)
    saved = load_file(tmp_path / "clap" / "model.safetensors")
    assert any(k.startswith("text_model.") for k in saved)  # random tower: saved
    loaded = load_clap(tmp_path)
    assert isinstance(loaded, DualEncoderCLAP) and loaded.config == tiny_dual.config
    _assert_same_embeddings(tiny_dual, loaded)


def test_dual_round_trip_frozen_minilm_is_not_copied(
    minilm_dual: DualEncoderCLAP, tmp_path: Path
) -> None:
    minilm_dual.save_pretrained(tmp_path)
    saved = load_file(tmp_path / "model.safetensors")
    assert not any(k.startswith("text_model.") for k in saved)
    n_saved = sum(v.numel() for v in saved.values())
    assert n_saved < 3_000_000  # MiniLM alone has 22.7 M parameters
    assert (tmp_path / "model.safetensors").stat().st_size < 12_000_000
    loaded = DualEncoderCLAP.from_pretrained(tmp_path)
    _assert_same_embeddings(minilm_dual, loaded)


def test_dual_strict_loading(tiny_dual: DualEncoderCLAP, tmp_path: Path) -> None:
    tiny_dual.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    state = load_file(path)
    removed = "audio_proj.2.weight"
    del state[removed]
    state["extra.weight"] = torch.zeros(1)
    save_file(state, path)
    with pytest.raises(ValueError, match=r"audio_proj\.2\.weight") as err:
        DualEncoderCLAP.from_pretrained(tmp_path)
    assert "extra.weight" in str(err.value)


def test_minilm_tower_is_really_pretrained(minilm_dual: DualEncoderCLAP) -> None:
    texts = ["a dog barking", "a puppy yapping", "violin melody"]
    with torch.no_grad():
        feats = torch.nn.functional.normalize(minilm_dual.text_features(texts), dim=-1)
        emb = minilm_dual.encode_text(texts)
    for x in (feats, emb):
        assert x[0] @ x[1] > x[0] @ x[2]
    assert feats[0] @ feats[1] == pytest.approx(0.44, abs=0.02)  # ENVIRONMENT.md's figure


def test_frozen_text_tower(minilm_dual: DualEncoderCLAP) -> None:
    assert not any(p.requires_grad for p in minilm_dual.text_model.parameters())
    minilm_dual.train()
    try:
        assert not minilm_dual.text_model.training and minilm_dual.audio_model.training
        emb = minilm_dual.encode_text(["a dog"])
        emb.sum().backward()  # the projection head still trains
        assert minilm_dual.text_proj[0].weight.grad is not None
    finally:
        minilm_dual.eval()
        minilm_dual.zero_grad(set_to_none=True)
    # A fine-tunable MiniLM owns its weights; frozen copies share the cached ones.
    other = DualEncoderCLAP.build(DualEncoderConfig(max_seconds=1.0))
    tuned = DualEncoderCLAP.build(DualEncoderConfig(max_seconds=1.0, freeze_text=False))
    w = [m.text_model.embeddings.word_embeddings.weight for m in (minilm_dual, other, tuned)]
    assert w[0].data_ptr() == w[1].data_ptr() != w[2].data_ptr()
    assert w[2].requires_grad and torch.equal(w[0], w[2])
    other.double()  # converting one frozen copy leaves the others (and the cache) alone
    assert w[0].dtype == torch.float32


def test_dual_config_dict_round_trip() -> None:
    cfg = DualEncoderConfig(mel=MelConfig(padding="hifigan"), audio_norm="group")
    assert DualEncoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        DualEncoderConfig.from_dict({"nope": 1})


def test_dual_group_norm_variant() -> None:
    model = DualEncoderCLAP.build(dataclasses.replace(TINY_DUAL, audio_norm="group"))
    with torch.no_grad():
        _unit_rows(model.encode_audio(_wav(2, 0.3, 16000), 16000), 16)


# -- laion backend ------------------------------------------------------------------------
def test_laion_round_trip(tiny_laion: LaionCLAP, tmp_path: Path) -> None:
    save_clap(tiny_laion, tmp_path)
    for sub in ("text_encoder", "tokenizer", "audio_encoder", "feature_extractor"):
        assert (tmp_path / sub).is_dir()
    assert (tmp_path / "text_encoder" / "model.safetensors").is_file()
    loaded = load_clap(tmp_path)
    assert isinstance(loaded, LaionCLAP) and loaded.can_encode_audio
    _assert_same_embeddings(tiny_laion, loaded)


def test_laion_text_only(tiny_laion: LaionCLAP, tmp_path: Path) -> None:
    text_only = LaionCLAP(tiny_laion.text_encoder, tiny_laion.tokenizer)
    text_only.save_pretrained(tmp_path)
    loaded = LaionCLAP.from_pretrained(tmp_path)
    assert not loaded.can_encode_audio
    with torch.no_grad():
        assert torch.equal(loaded.encode_text(TEXTS), tiny_laion.encode_text(TEXTS))
    with pytest.raises(RuntimeError, match="ships no CLAP audio tower"):
        loaded.encode_audio(_wav(1, 1.0, 16000), 16000)


def test_laion_strict_loading(tiny_laion: LaionCLAP, tmp_path: Path) -> None:
    tiny_laion.save_pretrained(tmp_path)
    path = tmp_path / "text_encoder" / "model.safetensors"
    state = load_file(path)
    removed = "text_projection.linear2.weight"
    del state[removed]
    save_file(state, path, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=removed.replace(".", r"\.")):
        LaionCLAP.from_pretrained(tmp_path)


def test_load_clap_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no CLAP"):
        load_clap(tmp_path)
    (tmp_path / "clap").mkdir()
    (tmp_path / "clap" / "config.json").write_text('{"backend": "mystery"}')
    with pytest.raises(ValueError, match="mystery"):
        load_clap(tmp_path)


@pytest.mark.parametrize(
    ("config", "hidden", "params_m"),
    [(HTSAT_TINY_AUDIO_CONFIG, 768, 28.19), (HTSAT_BASE_AUDIO_CONFIG, 1024, 68.61)],
)
def test_laion_presets_have_the_published_shapes(
    config: dict[str, object], hidden: int, params_m: float
) -> None:
    from transformers import (
        ClapAudioConfig,
        ClapAudioModelWithProjection,
        ClapTextConfig,
        ClapTextModelWithProjection,
    )

    with torch.device("meta"):  # shapes only: no memory, no init cost
        text = ClapTextModelWithProjection(ClapTextConfig(**LAION_TEXT_CONFIG))
        audio = ClapAudioModelWithProjection(ClapAudioConfig(**config))
    assert text.text_projection.linear2.out_features == 512
    assert audio.audio_projection.linear1.in_features == hidden
    assert audio.audio_model.audio_encoder.num_features == hidden
    n_text = sum(p.numel() for p in text.parameters())
    n_audio = sum(p.numel() for p in audio.parameters())
    assert math.isclose(n_text / 1e6, 125.30, abs_tol=0.01)
    assert math.isclose(n_audio / 1e6, params_m, abs_tol=0.01)
