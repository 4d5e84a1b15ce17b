"""``foleyldm train all`` end to end on the tiny recipe, ``export --fp16``, ``generate``."""

from __future__ import annotations

import importlib.util
import json

import soundfile as sf
import torch

from foleyldm.pipelines.loading import load_pipeline
from foleyldm.serving.cli import main

from .conftest import TINY_RECIPE


def test_train_all_then_generate(corpus, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    args = ["train", "all", "--config", str(TINY_RECIPE), "--data", str(corpus), "--out", str(run)]
    short = ["clap.steps=2", "vae.steps=2", "vocoder.steps=2", "ldm.steps=2", "ldm.sample_every=2"]
    assert main([*args, *(x for s in short for x in ("--set", s))]) == 0
    export = run / "export"
    assert capsys.readouterr().out.strip().endswith(str(export))
    for stage in ("clap", "vae", "vocoder", "ldm"):
        rows = [json.loads(x) for x in (run / stage / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if "loss" in r] == [1, 2]
        assert (run / stage / "checkpoints" / "step_00000002" / "state.pt").is_file()
    if importlib.util.find_spec("tensorboard") is not None:  # the [train] extra
        assert list((run / "ldm" / "tensorboard").glob("events.out.tfevents.*"))
    index = json.loads((export / "model_index.json").read_text())
    assert {"unet", "vae", "vocoder", "scheduler"} <= set(index)

    # The release carries every trained component: the first stage's CLAP ...
    pipe = load_pipeline(export)
    assert pipe.clap is not None and pipe.clap.config.max_seconds == 0.64  # type: ignore[union-attr]
    # ... and the latent scale the LDM measured on its first batch.
    ldm_state = torch.load(
        run / "ldm" / "checkpoints" / "step_00000002" / "state.pt", weights_only=True
    )
    assert pipe.codec.scaling_factor == ldm_state["extra"]["scale"]

    assert main(["export", str(run), str(tmp_path / "fp16"), "--fp16"]) == 0
    for model, name in ((export, "a.wav"), (tmp_path / "fp16", "b.wav")):
        out = tmp_path / name
        gen = ["generate", "a rising sine sweep", "-o", str(out), "--model", str(model)]
        assert main([*gen, "--steps", "2", "--duration", "0.64", "--seed", "0", "--quiet"]) == 0
        wav, sr = sf.read(out)
        assert sr == 16000 and len(wav) == round(0.64 * 16000) and abs(wav).max() > 0
