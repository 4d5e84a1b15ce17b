"""Original AudioLDM checkpoints -> foleyldm: the original code's own numbers, exact round trips,
and strictness (every key used or deliberately ignored, every shape checked, no code run)."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from foleyldm.diffusion.samplers import make_scheduler
from foleyldm.diffusion.sampling import guided_noise
from foleyldm.errors import CheckpointError
from foleyldm.models.convert.checkpoint import (
    convert_original_checkpoint,
    convert_original_state_dict,
    infer_original_config,
    load_original_state_dict,
    original_state_dict_from_pipeline,
)
from foleyldm.models.convert.layout import layout_from_variant
from foleyldm.models.convert.unet_keys import ema_key
from foleyldm.models.presets import PRESETS
from foleyldm.pipelines.loading import load_pipeline
from tests.conftest import shared_dir

REF = shared_dir() / "reference" / "audioldm-original-tiny"
needs_ref = pytest.mark.skipif(
    not (REF / "checkpoint.safetensors").is_file(),
    reason=f"original-code reference data not found at {REF} (set FOLEYLDM_SHARED)",
)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return max_diff(a, b) / float(b.abs().max())


# ---- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ref_state():
    return load_original_state_dict(REF / "checkpoint.safetensors")


@pytest.fixture(scope="module")
def cases():
    return load_file(REF / "cases.safetensors")


@pytest.fixture(scope="module")
def ref_pipe(tmp_path_factory):
    """The reference checkpoint converted (EMA) to a folder and loaded back as a pipeline."""
    out = tmp_path_factory.mktemp("converted") / "audioldm-tiny"
    convert_original_checkpoint(
        REF / "checkpoint.safetensors", out, original_config=REF / "config.json"
    )
    return load_pipeline(out)


@pytest.fixture(scope="module")
def online_unet(ref_state):
    return convert_original_state_dict(ref_state, original_config=REF / "config.json", ema=False)[0]


def random_models(preset: str, seed: int = 0):
    """UNet, VAE and vocoder of a preset: built on meta, then every tensor drawn N(0, 1)."""
    p = PRESETS[preset]
    with torch.device("meta"):
        models = (
            UNet2DConditionModel(**p.unet),
            AutoencoderKL(**p.vae),
            SpeechT5HifiGan(SpeechT5HifiGanConfig(**p.vocoder)),
        )
    g = torch.Generator().manual_seed(seed)
    for m in models:
        m.to_empty(device="cpu").eval()
        with torch.no_grad():
            for t in m.state_dict().values():
                t.normal_(generator=g)
    return models


def assert_identical(a: torch.nn.Module, b: torch.nn.Module, skip: tuple[str, ...] = ()) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k, v in sa.items():
        if k not in skip:
            assert v.dtype == sb[k].dtype and torch.equal(v, sb[k]), k


# ---- the original code's numbers ----------------------------------------------------------
@needs_ref
@pytest.mark.parametrize("copy", ["online", "ema"])
def test_unet_reproduces_the_original(copy, ref_pipe, online_unet, cases):
    unet = ref_pipe.unet if copy == "ema" else online_unet
    with torch.no_grad():
        eps = unet(cases["unet.x"], cases["unet.t"], None, class_labels=cases["unet.y"]).sample
    assert max_diff(eps, cases[f"unet.eps_{copy}"]) < 1e-5
    other = cases["unet.eps_online" if copy == "ema" else "unet.eps_ema"]
    assert max_diff(eps, other) > 0.1  # the EMA/online choice is visible at this tolerance


@needs_ref
def test_eight_heads_would_be_a_different_function(ref_pipe, tmp_path, cases):
    # diffusers' AudioLDM configs say attention_head_dim 8 (= 8 heads everywhere): the same
    # weights then compute something else, so the test above does check the head layout.
    assert tuple(ref_pipe.unet.config.attention_head_dim) == (2, 2, 2, 4)
    ref_pipe.unet.save_pretrained(tmp_path)
    eight = UNet2DConditionModel.from_pretrained(tmp_path, attention_head_dim=8).eval()
    with torch.no_grad():
        eps = eight(cases["unet.x"], cases["unet.t"], None, class_labels=cases["unet.y"]).sample
    assert max_diff(eps, cases["unet.eps_ema"]) > 0.1


@needs_ref
def test_vae_reproduces_the_original(ref_pipe, cases):
    vae = ref_pipe.codec.vae
    assert vae.config.scaling_factor == pytest.approx(0.85)
    with torch.no_grad():
        posterior = vae.encode(cases["vae.mel_in"]).latent_dist
        mel = vae.decode(cases["vae.z_in"]).sample
    assert max_diff(posterior.mean, cases["vae.posterior_mean"]) < 1e-5
    assert max_diff(posterior.logvar, cases["vae.posterior_logvar"]) < 1e-5
    assert max_diff(mel, cases["vae.mel_out"]) < 1e-5


@needs_ref
def test_vocoder_reproduces_the_original(ref_pipe, cases):
    with torch.no_grad():  # the original takes [B, 64, T]; SpeechT5HifiGan [B, T, 64]
        wav = ref_pipe.codec.vocoder(cases["vocoder.mel_in"].transpose(1, 2).contiguous())
    assert wav.shape == (1, 8032)
    assert max_diff(wav, cases["vocoder.waveform"][:, 0]) < 1e-6


@needs_ref
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_sampling_reproduces_the_original(eta, ref_pipe, cases):
    """5 guided DDIM steps through our scheduler factory and guidance, then VAE and vocoder."""
    pre = "sample" if eta == 0.0 else "sample_eta1"
    sched = make_scheduler("ddim", ref_pipe.scheduler_config)
    sched.set_timesteps(5)
    assert sched.timesteps.tolist() == cases[f"{pre}.timesteps"].tolist()
    x = cases["sample.x_T"] * sched.init_noise_sigma  # both runs share inputs
    c, uc = cases["sample.c"], cases["sample.uc"]
    with torch.no_grad():
        for i, t in enumerate(sched.timesteps):
            e = guided_noise(ref_pipe.unet, sched.scale_model_input(x, t), t, c, uc, 2.5)
            extra = {"variance_noise": cases[f"{pre}.noise"][i]} if eta else {}
            x = sched.step(e, t, x, eta=eta, **extra).prev_sample
            assert rel_diff(x, cases[f"{pre}.x_steps"][i]) < 1e-5, f"step {i}"
        assert rel_diff(x, cases[f"{pre}.latent"]) < 1e-5
        # Decode the reference latent (the decoder alone) and ours (end to end).
        ref_mel = cases[f"{pre}.mel"]
        assert max_diff(ref_pipe.codec.decode_mel(cases[f"{pre}.latent"]), ref_mel) < 1e-5
        mel = ref_pipe.codec.decode_mel(x)
        assert rel_diff(mel, cases[f"{pre}.mel"]) < 1e-5
        wav = ref_pipe.codec.vocode(mel)
    ref_wav = cases[f"{pre}.waveform"][:, 0, : wav.shape[1]]
    assert wav.shape[1] == 128 * 160
    assert rel_diff(wav, ref_wav) < 1e-5


@needs_ref
def test_converted_folder_has_the_pipeline_layout(ref_pipe):
    assert ref_pipe.clap is None  # the reference checkpoint ships no CLAP
    assert ref_pipe.scheduler_config["beta_schedule"] == "scaled_linear"
    assert ref_pipe.codec.mel.n_mels == 64


# ---- round trips --------------------------------------------------------------------------
@needs_ref
def test_tiny_round_trip_has_the_published_layout_and_is_exact(ref_state, tmp_path):
    unet, vae, vocoder = random_models("tiny")
    state = original_state_dict_from_pipeline(unet, vae, vocoder, 0.85)
    assert {k: list(v.shape) for k, v in state.items()} == {
        k: list(v.shape) for k, v in ref_state.items()
    }
    for k in ("betas", "alphas_cumprod", "posterior_mean_coef2", "sqrt_recipm1_alphas_cumprod"):
        assert torch.allclose(state[k], ref_state[k], rtol=1e-6, atol=0), k
    # Through a Lightning-style .ckpt (the torch.load + mmap path) and back.
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": state, "global_step": 7}, ckpt)
    back = convert_original_state_dict(
        load_original_state_dict(ckpt), original_config=REF / "config.json"
    )
    assert_identical(unet, back[0])
    assert_identical(vae, back[1])
    assert_identical(vocoder, back[2], skip=("mean", "scale"))
    assert torch.equal(back[2].mean, torch.zeros(64)) and torch.equal(back[2].scale, torch.ones(64))


def test_audioldm_s_round_trip_is_exact_and_shapes_give_the_layout():
    unet, vae, vocoder = random_models("audioldm-s", seed=1)
    state = original_state_dict_from_pipeline(unet, vae, vocoder, 0.9392935633659363, ema=False)
    for key, shape in {
        "model.diffusion_model.input_blocks.0.0.weight": [128, 8, 3, 3],
        "model.diffusion_model.film_emb.weight": [512, 512],  # CLAP 512 -> 4 * 128
        "model.diffusion_model.input_blocks.4.1.proj_in.weight": [256, 256, 1, 1],
        "model.diffusion_model.output_blocks.2.2.conv.weight": [640, 640, 3, 3],
        "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight": [128, 256, 1, 1],
        "first_stage_model.encoder.mid.attn_1.q.weight": [512, 512, 1, 1],
        "first_stage_model.vocoder.ups.0.weight": [1024, 512, 16],
    }.items():
        assert list(state[key].shape) == shape, key
    groups = {k.split(".")[0] for k in state if "." in k}
    assert groups == {"model", "first_stage_model"}
    assert sum(k.startswith("model.diffusion_model.") for k in state) == 690

    layout = infer_original_config(state)  # from the shapes alone
    want = layout_from_variant("s", scale_factor=layout.scale_factor)
    assert (layout.unet, layout.vae, layout.vocoder) == (want.unet, want.vae, want.vocoder)
    assert layout.unet["attention_head_dim"] == (4, 8, 12, 20)

    back = convert_original_state_dict(state, variant="s", ema=False)
    assert_identical(unet, back[0])
    assert_identical(vae, back[1])
    assert_identical(vocoder, back[2], skip=("mean", "scale"))
    # The models hold the checkpoint's tensors (assigned, not copied).
    ptr = state["model.diffusion_model.out.2.weight"].data_ptr()
    assert back[0].conv_out.weight.data_ptr() == ptr


def test_ema_and_online_copies_are_told_apart():
    unet, vae, vocoder = random_models("tiny", seed=2)
    shadow = random_models("tiny", seed=3)[0]
    state = original_state_dict_from_pipeline(unet, vae, vocoder, 1.0, ema_unet=shadow)
    assert ema_key("model.diffusion_model.input_blocks.0.0.weight") == (
        "model_ema.diffusion_modelinput_blocks00weight"
    )
    layout_cfg = _tiny_original_config()
    assert_identical(shadow, convert_original_state_dict(state, original_config=layout_cfg)[0])
    online = convert_original_state_dict(state, original_config=layout_cfg, ema=False)[0]
    assert_identical(unet, online)


# ---- strictness ---------------------------------------------------------------------------
def _tiny_original_config() -> dict:
    """The reference config.json's content for the tiny shapes (tests run without shared/)."""
    return {
        "model": {
            "params": {
                "linear_start": 0.0015,
                "linear_end": 0.0195,
                "timesteps": 1000,
                "scale_factor": 1.0,
                "unet_config": {
                    "params": {
                        "extra_film_condition_dim": 512,
                        "extra_film_use_concat": True,
                        "in_channels": 8,
                        "out_channels": 8,
                        "model_channels": 32,
                        "attention_resolutions": [8, 4, 2],
                        "num_res_blocks": 1,
                        "channel_mult": [1, 1, 1, 2],
                        "num_head_channels": 16,
                        "use_spatial_transformer": True,
                    }
                },
                "first_stage_config": {
                    "params": {
                        "embed_dim": 8,
                        "ddconfig": {
                            "double_z": True,
                            "z_channels": 8,
                            "in_channels": 1,
                            "out_ch": 1,
                            "ch": 32,
                            "ch_mult": [1, 1, 2],
                            "num_res_blocks": 2,
                            "attn_resolutions": [],
                        },
                    }
                },
            }
        },
        "hifigan": {
            "resblock": "1",
            "upsample_rates": [5, 4, 2, 2, 2],
            "upsample_kernel_sizes": [16, 16, 8, 4, 4],
            "upsample_initial_channel": 32,
            "resblock_kernel_sizes": [3, 7, 11],
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
            "num_mels": 64,
            "sampling_rate": 16000,
        },
    }


@pytest.fixture(scope="module")
def tiny_state():
    return original_state_dict_from_pipeline(*random_models("tiny", seed=4), 0.85)


def _convert(state, **kw):
    return convert_original_state_dict(state, original_config=_tiny_original_config(), **kw)


@needs_ref
def test_tiny_config_matches_the_reference_config():
    cfg = json.loads((REF / "config.json").read_text())
    for part in ("unet_config", "first_stage_config"):
        mine = _tiny_original_config()["model"]["params"][part]["params"]
        ref = cfg["model"]["params"][part]["params"]
        assert all(ref[k] == v for k, v in mine.items() if k != "ddconfig")


@pytest.mark.parametrize(
    "key",
    [
        "model.diffusion_model.bogus.weight",  # in the copy not chosen: still reported
        "model_ema.diffusion_modelbogusweight",
        "first_stage_model.loss.discriminator.weight",
        "cond_stage_model_typo.weight",
    ],
)
def test_unknown_key_is_named(tiny_state, key):
    state = {**tiny_state, key: torch.zeros(1)}
    with pytest.raises(CheckpointError, match=rf"unconverted.*{key.replace('.', '[.]')}"):
        _convert(state)


@pytest.mark.parametrize(
    "key",
    [
        "first_stage_model.decoder.up.1.block.0.nin_shortcut.bias",
        "first_stage_model.vocoder.resblocks.14.convs2.2.weight",
        "model_ema.diffusion_modelout2bias",
    ],
)
def test_missing_key_is_named(tiny_state, key):
    state = {k: v for k, v in tiny_state.items() if k != key}
    with pytest.raises(CheckpointError, match=rf"missing.*{key.replace('.', '[.]')}"):
        _convert(state)


def test_wrong_shape_is_named(tiny_state):
    state = {**tiny_state, "first_stage_model.vocoder.conv_pre.weight": torch.zeros(32, 64, 5)}
    with pytest.raises(CheckpointError, match=r"vocoder\.conv_pre\.weight \[32, 64, 5\]"):
        _convert(state)


def test_missing_ema_copy_says_how_to_use_the_online_weights(tiny_state):
    state = {k: v for k, v in tiny_state.items() if not k.startswith("model_ema.")}
    with pytest.raises(CheckpointError, match="ema=False"):
        _convert(state)
    _convert(state, ema=False)


def test_variant_with_other_shapes_is_refused(tiny_state):
    shown = r"first_stage_model\.decoder\.conv_in\.bias \[64\] \(expected \[512\]\)"
    with pytest.raises(CheckpointError, match=rf"variant s layout: \d+ keys: {shown}"):
        convert_original_state_dict(tiny_state, variant="s")


def test_changed_noise_schedule_is_refused(tiny_state):
    state = {**tiny_state, "betas": tiny_state["betas"] * 1.1}
    with pytest.raises(CheckpointError, match="betas"):
        _convert(state)


def test_clap_keys_without_a_clap_mapping_are_listed(tiny_state, monkeypatch):
    monkeypatch.setitem(sys.modules, "foleyldm.models.convert.clap_keys", None)  # import fails
    state = {**tiny_state, "cond_stage_model.model.text_branch.pooler.dense.weight": torch.ones(2)}
    with pytest.raises(CheckpointError, match=r"cond_stage_model.*no CLAP key mapping"):
        _convert(state)
    assert _convert(state, skip_clap=True)[3] is None


def test_clap_needs_a_tokenizer_folder(tiny_state):
    state = {**tiny_state, "cond_stage_model.model.logit_scale_t": torch.ones(())}
    with pytest.raises(CheckpointError, match="clap_tokenizer"):
        _convert(state)


class _Payload:
    """Unpickling this would run ``_record`` (it never must)."""

    def __reduce__(self):
        return (_record, ("executed",))


_RAN: list[str] = []


def _record(what: str) -> str:
    _RAN.append(what)
    return what


def test_pickle_that_needs_code_is_refused_unexecuted(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="not a plain weights checkpoint"):
        load_original_state_dict(path)
    assert _RAN == []


def test_unreadable_and_empty_files_are_refused(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_original_state_dict(tmp_path / "junk.ckpt")
    with pytest.raises(CheckpointError, match="no such"):
        load_original_state_dict(tmp_path / "absent.ckpt")
    save_file({}, tmp_path / "empty.safetensors")
    with pytest.raises(CheckpointError, match="no tensors"):
        load_original_state_dict(tmp_path / "empty.safetensors")


def test_checkpoint_with_a_clap_converts_it_through_the_clap_mapping(tiny_state, tmp_path):
    from transformers import (
        ClapAudioConfig,
        ClapAudioModelWithProjection,
        ClapTextConfig,
        ClapTextModelWithProjection,
    )

    from foleyldm.models.clap.dual import minilm_tokenizer
    from foleyldm.models.convert.clap_keys import clap_hf_to_original

    torch.manual_seed(0)
    text = ClapTextModelWithProjection(
        ClapTextConfig(
            vocab_size=100,
            hidden_size=64,  # one 64-wide head: RoBERTa's head width, what the mapping infers
            num_hidden_layers=1,
            num_attention_heads=1,
            intermediate_size=32,
            max_position_embeddings=40,
            projection_dim=512,
            layer_norm_eps=1e-5,
        )
    ).eval()
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
    ).eval()
    clap_state = clap_hf_to_original(
        text.state_dict(),
        audio.state_dict(),
        torch.tensor(2.0),
        torch.tensor(3.0),
        prefix="cond_stage_model.model.",
    )
    tok = tmp_path / "tokenizer"
    minilm_tokenizer().save_pretrained(tok)
    ckpt = tmp_path / "with-clap.safetensors"
    save_file({**tiny_state, **clap_state}, ckpt)

    out = convert_original_checkpoint(
        ckpt, tmp_path / "out", original_config=_tiny_original_config(), clap_tokenizer=tok
    )
    pipe = load_pipeline(out)
    assert type(pipe.clap).__name__ == "LaionCLAP" and pipe.clap.can_encode_audio
    want = text.state_dict()
    for k, v in pipe.clap.text_encoder.state_dict().items():
        assert torch.equal(v, want[k]), k


@pytest.mark.parametrize(
    ("preset", "variant", "unet_keys"), [("audioldm-m", "m", 690), ("audioldm-l", "l", 690)]
)
def test_m_and_l_layouts_on_meta(preset, variant, unet_keys):
    """Key set and shapes of the -m / -l original layout, without allocating their weights."""
    p = PRESETS[preset]
    with torch.device("meta"):
        unet = UNet2DConditionModel(**p.unet)
        vae = AutoencoderKL(**p.vae)
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**p.vocoder))
    state = original_state_dict_from_pipeline(unet, vae, vocoder, 0.9, ema=False)
    assert sum(k.startswith("model.diffusion_model.") for k in state) == unet_keys
    width = p.unet["block_out_channels"][0]
    assert list(state["model.diffusion_model.input_blocks.0.0.weight"].shape) == [width, 8, 3, 3]
    layout = infer_original_config(state)  # the shapes alone give back the released layout
    want = layout_from_variant(variant, scale_factor=layout.scale_factor)
    assert (layout.unet, layout.vae, layout.vocoder) == (want.unet, want.vae, want.vocoder)
    assert tuple(layout.unet["attention_head_dim"]) == tuple(p.unet["attention_head_dim"])
