"""Training configs: YAML/JSON files, typed dotted overrides, errors that name the field."""

from __future__ import annotations

import json

import pytest

from foleyldm.training.config import (
    Config,
    ConfigError,
    apply_overrides,
    load_config,
    save_config,
)

from .conftest import TINY_RECIPE


def test_defaults_follow_the_reference_recipe() -> None:
    c = Config()
    assert c.ldm.optim.lr == 1e-4 and c.ldm.optim.warmup_steps == 2000
    assert c.ldm.cond_dropout == 0.1 and c.ldm.ema_decay == 0.9999
    assert c.vae.optim.betas == (0.5, 0.9) and c.vae.disc_weight == 0.5
    assert (c.vocoder.mel_weight, c.vocoder.fm_weight) == (45.0, 2.0)
    assert c.vocoder.periods == (2, 3, 5, 7, 11)


@pytest.mark.parametrize("recipe", sorted(TINY_RECIPE.parent.glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_loads(recipe) -> None:
    assert load_config(recipe).preset


def test_tiny_recipe_loads_with_typed_values() -> None:
    c = load_config(TINY_RECIPE)
    assert c.preset == "tiny"
    assert c.ldm.optim.lr == 1e-3  # "1.0e-3" in YAML
    assert c.vocoder.periods == (2, 3) and isinstance(c.vocoder.periods, tuple)
    assert c.vae.optim.betas == (0.5, 0.9)


def test_overrides_are_typed_and_stage_relative() -> None:
    c = load_config(
        TINY_RECIPE,
        [
            "optim.lr=1e-4",
            "steps=7",
            "run.mixed_precision=bf16",
            "vae.compression=8",
            "ldm.scale_factor=keep",
            "vocoder.periods=[2, 5]",
            "run.progress=false",
        ],
        stage="ldm",
    )
    assert c.ldm.optim.lr == 1e-4 and isinstance(c.ldm.optim.lr, float)
    assert c.ldm.steps == 7 and c.clap.steps == 12  # the stage's section only
    assert c.run.mixed_precision == "bf16" and c.run.progress is False
    assert c.vae.compression == 8 and c.ldm.scale_factor == "keep"
    assert c.vocoder.periods == (2, 5)
    assert load_config(None, ["ldm.scale_factor=0.5"]).ldm.scale_factor == 0.5
    assert load_config(None, ["init=null"]).init is None
    assert load_config(None, ["run.mixed_precision=no"]).run.mixed_precision == "no"  # not False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ldm.optim.lr=fast", "ldm.optim.lr"),
        ("ldm.optim.lrr=1", "unknown keys ['lrr']"),
        ("run.mixed_precision=fp8", "run.mixed_precision"),
        ("ldm.steps=1.5", "expected an integer"),
        ("vae.compression=6", "compression"),
        ("ldm.batch_size=6", "divisible by grad_accum"),
        ("nonsense", "KEY=VALUE"),
        ("optim.lr=1", "unknown section 'optim'"),
        ("ldm.repeat_threshold=-0.1", "ldm: repeat_threshold"),
    ],
)
def test_bad_values_name_the_field(override: str, message: str) -> None:
    extra = ["ldm.grad_accum=4"] if "batch_size" in override else []
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, [*extra, override])


def test_save_and_reload_round_trip(tmp_path) -> None:
    c = load_config(TINY_RECIPE, ["ldm.val_prompts=[a, b]"])
    save_config(c, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c
    (tmp_path / "c.json").write_text(json.dumps(c.to_dict()))
    assert load_config(tmp_path / "c.json") == c


def test_apply_overrides_does_not_touch_its_input() -> None:
    data = {"ldm": {"optim": {"lr": 1.0}}}
    out = apply_overrides(data, ["ldm.optim.lr=2"])
    assert data["ldm"]["optim"]["lr"] == 1.0 and out["ldm"]["optim"]["lr"] == 2
