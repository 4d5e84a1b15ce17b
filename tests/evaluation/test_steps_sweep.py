"""``steps_sweep``: the sampler-steps table of issues 9/10 on the tiny preset, and its rule
for "the fewest steps within the tolerance"."""

from __future__ import annotations

import math

import pytest

from foleyldm.evaluation.steps_sweep import StepsSweep, SweepCell, steps_sweep
from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
from tests.evaluation.audio_fixtures import harmonic_note, tone, white_noise, write_prompt_set
from tests.evaluation.test_benchmark import needs_yamnet


def test_fewest_steps_uses_the_tolerance_against_the_baseline():
    sweep = StepsSweep("ddim:200", baseline_fd=10.0, baseline_seconds=20.0, tolerance=0.05)
    sweep.cells += [
        SweepCell("ddim", 5, 14.0, 3.0, 0.5),
        SweepCell("ddim", 10, 10.6, 2.0, 1.0),  # 6 % worse: outside
        SweepCell("ddim", 20, 10.4, 1.0, 2.0),  # 4 % worse: inside
        SweepCell("dpmpp-2m", 10, 9.0, 1.5, 1.0),  # better than the baseline
        SweepCell("unipc", 10, 12.0, 1.5, 1.0),
    ]
    assert sweep.fewest_steps("ddim") == 20
    assert sweep.fewest_steps("dpmpp-2m") == 10
    assert sweep.fewest_steps("unipc") is None
    table = sweep.to_markdown()
    assert "| ddim | 20 | 10.400 | 1.040 | 1.000 | 2.00 | 10.0x |" in table
    assert "- unipc: fewest steps within 5% of baseline: none of [10]" in table


@needs_yamnet
def test_sweep_runs_every_cell_and_compares_with_the_baselines_clips(
    tmp_path, tiny_pipe, monkeypatch
):
    monkeypatch.setattr(TextToAudioPipeline, "from_pretrained", lambda *a, **k: tiny_pipe)
    rows = [
        ("a bell ringing", tone(880.0, seconds=1.0)),
        ("white noise hiss", white_noise(seconds=1.0)),
        ("a low hum", tone(110.0, seconds=1.0)),
        ("a plucked string", harmonic_note(220.0, seconds=1.0)),
    ]
    prompts = write_prompt_set(tmp_path, rows)
    out = tmp_path / "sweep"
    sweep = steps_sweep(
        "tiny", prompts, out, ["ddim", "dpmpp-2m"], [3, 1], baseline="ddim:3", device="cpu"
    )
    assert [(c.sampler, c.steps) for c in sweep.cells] == [
        ("ddim", 1),
        ("ddim", 3),
        ("dpmpp-2m", 1),
        ("dpmpp-2m", 3),
    ]
    assert all(math.isfinite(c.fd) and c.fd >= 0 for c in sweep.cells)
    same = sweep.cells[1]  # the baseline's own cell: its clips are the baseline's clips
    assert same.fd == pytest.approx(sweep.baseline_fd)
    assert same.fd_to_baseline == pytest.approx(0.0, abs=1e-3)
    assert sweep.cells[0].fd_to_baseline > 1e-2  # one step of DDIM gives other clips
    assert sweep.fewest_steps("ddim") in (1, 3)
    assert (out / "table.md").read_text().strip() == sweep.to_markdown()
    assert len(list((out / "dpmpp-2m-1" / "audio").glob("*.wav"))) == len(rows)
