"""The checks every generating pipeline passes (STYLE.md lesson 9, after diffusers' mixin).

A test class sets ``pipe`` (a fixture name) and gets: save/load round trip, batch == single,
generator determinism, prompt_embeds == prompt, output types, length handling.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

FAST = {"num_inference_steps": 3, "audio_length_in_s": 1.0}


def gens(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


class PipelineTesterMixin:
    pipe_fixture = "tiny_pipe"

    @pytest.fixture
    def pipe(self, request):
        return request.getfixturevalue(self.pipe_fixture)

    def test_shape_and_length(self, pipe):
        out = pipe("a dog barking", generator=gens(0)[0], **FAST)
        assert out.waveforms.shape == (1, 1, pipe.sample_rate)
        assert out.waveforms.dtype == torch.float32
        assert torch.isfinite(out.waveforms).all()
        # a length that is not a multiple of the latent frame is trimmed exactly
        out = pipe(
            "a dog barking", generator=gens(0)[0], num_inference_steps=2, audio_length_in_s=0.337
        )
        assert out.waveforms.shape[-1] == round(0.337 * pipe.sample_rate)

    def test_same_generator_same_audio(self, pipe):
        a = pipe("rain on a roof", generator=gens(5)[0], **FAST).waveforms
        b = pipe("rain on a roof", generator=gens(5)[0], **FAST).waveforms
        c = pipe("rain on a roof", generator=gens(6)[0], **FAST).waveforms
        assert torch.equal(a, b)
        assert (a - c).abs().max() > 1e-4

    def test_batch_equals_single(self, pipe):
        prompts = ["a dog barking", "a violin melody"]
        batch = pipe(prompts, generator=gens(1, 2), **FAST).waveforms
        singles = [
            pipe(p, generator=gens(s), **FAST).waveforms
            for p, s in zip(prompts, (1, 2), strict=False)
        ]
        torch.testing.assert_close(batch, torch.cat(singles), atol=1e-5, rtol=1e-4)

    def test_prompt_embeds_equal_prompt(self, pipe):
        prompt = "footsteps on gravel"
        a = pipe(prompt, generator=gens(3)[0], **FAST).waveforms
        emb = pipe.encode_prompt([prompt])
        b = pipe(prompt_embeds=emb, generator=gens(3)[0], **FAST).waveforms
        assert torch.equal(a, b)

    def test_negative_prompt_changes_output(self, pipe):
        a = pipe("a bell", generator=gens(4)[0], **FAST).waveforms
        b = pipe("a bell", negative_prompt="low quality", generator=gens(4)[0], **FAST).waveforms
        assert (a - b).abs().max() > 0

    def test_num_waveforms_per_prompt(self, pipe):
        out = pipe(["a", "b"], num_waveforms_per_prompt=3, generator=gens(*range(6)), **FAST)
        assert out.waveforms.shape[0] == 6
        assert out.prompts == ["a"] * 3 + ["b"] * 3

    def test_output_type_np(self, pipe):
        out = pipe(
            "a cat",
            generator=gens(0)[0],
            output_type="np",
            return_mels=True,
            return_latents=True,
            **FAST,
        )
        assert isinstance(out.waveforms, np.ndarray)
        assert out.mels is not None and out.mels.shape[1:] == (1, 128, 64)  # 100 frames -> 128
        assert out.latents is not None and out.latents.shape[1] == 8

    def test_save_load_round_trip(self, pipe, tmp_path):
        from foleyldm import TextToAudioPipeline

        pipe.save_pretrained(tmp_path / "model")
        loaded = TextToAudioPipeline.from_pretrained(tmp_path / "model", device="cpu")
        a = pipe("a door slams", generator=gens(9)[0], **FAST).waveforms
        b = loaded("a door slams", generator=gens(9)[0], **FAST).waveforms
        assert torch.equal(a, b)
        assert loaded.defaults == pipe.defaults
        assert loaded.codec.mel == pipe.codec.mel
