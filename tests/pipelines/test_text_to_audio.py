from __future__ import annotations

import pytest
import torch

from foleyldm.diffusion.samplers import SAMPLERS
from foleyldm.errors import InvalidInputError

from .pipeline_mixin import FAST, PipelineTesterMixin, gens


class TestTinyTextToAudio(PipelineTesterMixin):
    pipe_fixture = "tiny_pipe"


def test_candidates_keep_the_highest_scoring_clip(tiny_pipe):
    prompt = "a dog barking"
    seeds = (11, 12, 13)
    best = tiny_pipe(prompt, num_candidates=3, generator=gens(*seeds), **FAST)
    # Each candidate on its own, scored by the same CLAP audio-text cosine.
    singles = [tiny_pipe(prompt, generator=gens(s), score=True, **FAST) for s in seeds]
    scores = torch.cat([s.scores for s in singles])
    k = int(scores.argmax())
    assert best.waveforms.shape == (1, 1, tiny_pipe.sample_rate)
    torch.testing.assert_close(best.waveforms, singles[k].waveforms, atol=1e-5, rtol=1e-4)
    assert best.scores is not None
    assert float(best.scores[0]) == pytest.approx(float(scores.max()), abs=1e-5)


def test_the_models_default_negative_prompt_applies_unless_one_is_given(tiny_pipe, monkeypatch):
    """A model folder's ``defaults.negative_prompt`` is the guidance's negative when a call
    names none; ``""`` asks for the empty text explicitly."""

    def run(**kw):
        return tiny_pipe("a bell", generator=gens(4)[0], **FAST, **kw).waveforms

    empty = run()
    monkeypatch.setitem(tiny_pipe.defaults, "negative_prompt", "low quality")
    default = run()
    torch.testing.assert_close(default, run(negative_prompt="low quality"), rtol=0, atol=0)
    torch.testing.assert_close(run(negative_prompt=""), empty, rtol=0, atol=0)
    assert (default - empty).abs().max() > 1e-4


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_runs(tiny_pipe, sampler):
    steps = []
    out = tiny_pipe(
        "wind",
        sampler=sampler,
        generator=gens(0)[0],
        num_inference_steps=3,
        audio_length_in_s=0.5,
        callback=lambda i, n, _x: steps.append((i, n)),
    )
    assert torch.isfinite(out.waveforms).all()
    assert out.waveforms.shape[-1] == 8000
    assert steps and steps[-1][0] == steps[-1][1]


def test_ddim_eta_uses_the_generator(tiny_pipe):
    a = tiny_pipe("birds", eta=1.0, generator=gens(2)[0], **FAST).waveforms
    b = tiny_pipe("birds", eta=1.0, generator=gens(2)[0], **FAST).waveforms
    c = tiny_pipe("birds", eta=0.0, generator=gens(2)[0], **FAST).waveforms
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0


def test_guidance_one_skips_the_unconditional_branch(tiny_pipe):
    calls = []
    handle = tiny_pipe.unet.register_forward_hook(lambda _m, inp, _o: calls.append(inp[0].shape[0]))
    try:
        tiny_pipe("a", guidance_scale=1.0, generator=gens(0)[0], **FAST)
        tiny_pipe("a", guidance_scale=3.0, generator=gens(0)[0], **FAST)
    finally:
        handle.remove()
    assert calls[:3] == [1, 1, 1] and calls[3:] == [2, 2, 2]


def test_latents_argument_sets_the_initial_noise(tiny_pipe):
    frames = tiny_pipe.frames_for(1.0)
    x = torch.randn(1, *tiny_pipe.codec.latent_shape(frames), generator=gens(8)[0])
    a = tiny_pipe("a", latents=x, **FAST).waveforms
    b = tiny_pipe("a", latents=x.clone(), generator=gens(99)[0], **FAST).waveforms
    assert torch.equal(a, b)
    with pytest.raises(InvalidInputError, match="shorter"):
        tiny_pipe("a", latents=x[:, :, :8], **FAST)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": ""}, "empty prompt"),
        ({"prompt": "   "}, "empty prompt"),
        ({"prompt": []}, "empty"),
        ({"prompt": "a", "audio_length_in_s": -1.0}, "audio_length_in_s"),
        ({"prompt": "a", "audio_length_in_s": 0.0}, "audio_length_in_s"),
        ({"prompt": "a", "audio_length_in_s": 1e6}, "audio_length_in_s"),
        ({"prompt": "a", "audio_length_in_s": float("nan")}, "audio_length_in_s"),
        ({"prompt": "a", "num_inference_steps": 0}, "num_inference_steps"),
        ({"prompt": "a", "guidance_scale": float("inf")}, "guidance_scale"),
        ({"prompt": "a", "sampler": "nope"}, "unknown sampler"),
        ({"prompt": "a", "num_candidates": 0}, "num_candidates"),
        ({"prompt": ["a", "b"], "negative_prompt": ["x", "y", "z"]}, "negative prompts"),
        ({"prompt": "a", "generator": gens(1, 2)}, "generators"),
        ({"prompt_embeds": torch.zeros(1, 3)}, "prompt_embeds"),
    ],
)
def test_bad_input_is_a_clear_error(tiny_pipe, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        tiny_pipe(**{"num_inference_steps": 1, **kwargs})


def test_empty_prompt_allowed_explicitly(tiny_pipe):
    out = tiny_pipe("", allow_empty_prompt=True, generator=gens(0)[0], **FAST)
    assert out.waveforms.shape[-1] == tiny_pipe.sample_rate


def test_frames_round_up_to_the_unet_multiple(tiny_pipe):
    # tiny: VAE compression 4 x UNet downsampling 8 -> multiples of 32 mel frames
    assert tiny_pipe.frames_for(10.24) == 1024
    assert tiny_pipe.frames_for(2.5) == 256
    assert tiny_pipe.frames_for(0.01) == 32


def test_bf16_autocast_stays_close_to_fp32(tiny_pipe):
    ref = tiny_pipe("a bell", generator=gens(0)[0], **FAST).waveforms
    try:
        tiny_pipe.set_precision("bf16")
        low = tiny_pipe("a bell", generator=gens(0)[0], **FAST).waveforms
    finally:
        tiny_pipe.set_precision("fp32")
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert not torch.equal(low, ref)  # autocast really ran in bf16
    # random weights amplify rounding; still the same clip, not another one
    rel = (low - ref).norm() / ref.norm()
    assert rel < 0.2, float(rel)
    with pytest.raises(InvalidInputError, match="precision"):
        tiny_pipe.set_precision("fp8")  # type: ignore[arg-type]


def test_repeated_prompts_reuse_cached_text_embeddings(tiny_pipe, monkeypatch):
    """Each distinct prompt is encoded once, alone (batch-independent), and the LRU is bounded."""
    from foleyldm.pipelines.loading import build_pipeline

    pipe = build_pipeline("tiny")  # its own cache, not the shared fixture's
    calls: list[list[str]] = []
    encode = pipe.clap.encode_text

    def counting(texts):
        calls.append(list(texts))
        return encode(texts)

    monkeypatch.setattr(pipe.clap, "encode_text", counting)
    first = pipe.encode_prompt(["a dog", "rain", "a dog"])
    again = pipe.encode_prompt(["rain", "a dog"])
    assert calls == [["a dog"], ["rain"]]
    assert torch.equal(first[0], first[2]) and torch.equal(again, first[[1, 0]])
    assert torch.equal(first[1], encode(["rain"])[0].to(first.dtype))

    pipe.text_cache_size = 2
    pipe.encode_prompt(["wind"])  # evicts the least recently used: "rain"
    pipe.encode_prompt(["a dog"])
    assert calls[-1] == ["wind"]
    pipe.encode_prompt(["rain"])
    assert calls[-1] == ["rain"]
    pipe.clear_text_cache()
    pipe.encode_prompt(["wind"])
    assert calls[-1] == ["wind"] and len(calls) == 5
